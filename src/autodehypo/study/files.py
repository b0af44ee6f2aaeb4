"""Creating, checking and opening a study on disk, and what it needs to run there.

Everything a config can pass and a study still fail on is checked before anything is
created; a damaged file is diagnosed where it is opened, in one line, before anything
reads it.
"""

from __future__ import annotations

import importlib.util
import json
import uuid
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..algorithms import Search
from ..config import (SEARCH_DEFAULTS_VERSION, ConfigError, NewerStudyError, StudyConfig, build_search,
                      parse_config)
from ..energy import MeterUnavailable, open_meters
from ..execution import Executor, LocalExecutor, SlurmError, SlurmExecutor
from ..objectives import ObjectiveError, build_objective
from ..processes import end_group
from ..space import ENCODING_VERSION
from ..storage import DB_NAME, Storage, StorageError
from ..tracking import Tracker, missing_packages, open_trackers
from .answers import params_key
from .driver_lock import LOCK_NAME, DriverLock


def prepare(directory: Path, config: dict[str, Any] | StudyConfig,
            objective: Callable[[dict[str, Any]], Any] | None) -> tuple[dict[str, Any], StudyConfig, Any]:
    """The config as stored, parsed, and its objective built: everything creating a study checks."""
    raw = config.raw if isinstance(config, StudyConfig) else dict(config)
    if objective is not None:
        raw = {**raw, "objective": {**raw.get("objective", {}), "type": "python",
                                    "function": _import_path(objective)}}
    cfg = parse_config(raw, default_name=directory.name, encoding=ENCODING_VERSION,
                       defaults=SEARCH_DEFAULTS_VERSION)
    if cfg.executor.get("type") == "slurm" and importlib.util.find_spec("submitit") is None:
        raise ConfigError("executor.type: \"slurm\" needs submitit, which is not installed here: "
                          "pip install 'autodehypo[slurm]'")
    if missing_packages(cfg.tracking):
        raise ConfigError(missing_packages(cfg.tracking))
    try:
        json.dumps(raw, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config: cannot be stored ({exc})") from None
    obj = build_objective_of(cfg, objective)
    open_configured_meters(cfg)  # an explicitly named meter that does not work here is a config error
    if cfg.executor.get("type", "local") == "local" and cfg.executor.get("gpus_per_trial"):
        local_executor(lambda params: 0.0, cfg.executor)  # more workers than the GPUs allow
    if (directory / DB_NAME).exists() or (directory / DB_NAME).is_symlink():
        raise StorageError(f"{directory} already holds a study; continue it with "
                           f"`autodehypo resume {directory}` or choose another --dir")
    lock = directory / LOCK_NAME
    if lock.is_dir() or lock.exists() and not lock.is_file():
        raise StorageError(f"{lock}: not a regular file where the driver's lock file belongs; "
                           "remove it and try again")
    if directory.exists() and not directory.is_dir():
        raise StorageError(f"{directory}: not a directory; choose another --dir")
    return raw, cfg, obj


def create_storage(directory: Path, raw: dict[str, Any], config_text: str) -> Storage:
    """The study's directory and file; a directory this call made is removed if the file is not."""
    try:
        created = _make_directory(directory)
    except OSError as exc:
        raise StorageError(f"{directory}: cannot create the study directory: "
                           f"{exc.strerror or exc}") from None
    try:
        return Storage.create(directory, raw, config_text, space_encoding=ENCODING_VERSION,
                              search_defaults=SEARCH_DEFAULTS_VERSION)
    except BaseException:
        if created:  # empty unless another driver created its study here meanwhile: then keep it
            try:
                directory.rmdir()
            except OSError:
                pass
        raise


def open_storage(directory: str | Path, *, readonly: bool = False) -> tuple[Storage, StudyConfig]:
    """A study's file and its config as parsed: where every command opens a study, so that a
    damaged file is diagnosed (StorageError, one line) before anything reads it."""
    directory = Path(directory)
    storage = Storage.open(directory, readonly=readonly)
    try:
        # A study made before the encoding (or the search defaults) was recorded used the first.
        cfg = parse_config(storage.meta("config"), default_name=directory.name,
                           encoding=storage.meta("space_encoding", 1), defaults=storage.search_defaults)
    except NewerStudyError as exc:
        storage.close()
        raise StorageError(f"{directory / DB_NAME}: {exc}") from None
    except ConfigError as exc:
        storage.close()
        raise StorageError(f"{directory / DB_NAME}: the stored config does not load ({exc}); the file was "
                           "changed by something other than autodehypo: restore it from a backup") from None
    except BaseException:
        storage.close()
        raise
    return storage, cfg


def open_study(directory: Path, objective: Callable | None) -> tuple[Storage, StudyConfig, Any]:
    """A study's file, its config and its objective, to resume it."""
    storage, cfg = open_storage(directory)
    try:
        return storage, cfg, build_objective_of(cfg, objective)
    except BaseException:
        storage.close()
        raise


def load_search(search: Search, state: dict[str, Any], path: Path,
                history: np.ndarray | None = None) -> Search:
    """``search`` continued from a stored state (and history: Search.state_parts); a state it
    cannot take is a damaged file."""
    try:
        search.load_state_parts(state, history)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise StorageError(f"{path}: the optimizer state does not load ({type(exc).__name__}: "
                           f"{str(exc)[:200]}); the file was changed by something other than "
                           "autodehypo: restore it from a backup") from None
    return search


def open_tracker(cfg: StudyConfig, storage: Storage, directory: Path) -> Tracker:
    """The study's trackers ([study.tracking]), told what an earlier driver did not send; a file
    from before study uids gets its uid here."""
    if not cfg.tracking:
        return Tracker()
    if missing_packages(cfg.tracking):
        raise ConfigError(missing_packages(cfg.tracking))
    uid = storage.meta("uid")
    if uid is None:
        uid = uuid.uuid4().hex
        storage.set_meta(uid=uid)
    tracker = open_trackers(cfg.tracking, study_name=cfg.name, study_uid=uid, directory=directory,
                            config=cfg.raw)
    tracker.catch_up(storage.trials())
    return tracker


def catch_up_trackers(cfg: StudyConfig, storage: Storage, directory: Path, totals: dict[str, Any]) -> None:
    """A finished study's trackers sent what they missed while it ran (the driver's lock held)."""
    lock = DriverLock(directory)
    try:
        open_tracker(cfg, storage, directory).close("finished", totals)
    finally:
        lock.release()


def continued_search(cfg: StudyConfig, storage: Storage, current: dict[str, Any] | None) -> Search:
    """The study's search, continued from ``current`` (Storage.current_state) when there is one."""
    search = build_search(cfg)
    # A repeated configuration is not asked; a model sees each configuration as one point.
    space = cfg.space
    search.set_key(lambda x: params_key(space.decode(x)), lambda x: space.encode(space.decode(x)))
    if current is not None:
        load_search(search, current["state"], storage.path, current["history"])
    return search


def end_leftovers(storage: Storage) -> None:
    """End what the trials of a driver that died (SIGKILL, node crash) left running.

    Before any trial runs again: otherwise a trial's old processes (a command's children,
    which the kernel does not kill with their parent) would run beside its rerun.
    """
    leftovers = storage.unfinished_with_processes()
    for trial in leftovers:
        if trial.pgid_start:
            end_group(trial.pgid, trial.pgid_start)
        trial.pgid = trial.pgid_start = None
    if leftovers:
        storage.update_trials(leftovers, ("pgid", "pgid_start"))


def build_objective_of(cfg: StudyConfig, objective: Callable | None) -> Any:
    table = dict(cfg.objective)
    if objective is not None:
        table["function"] = objective
    try:
        names = cfg.space.names + ([cfg.fidelity.param] if cfg.fidelity else [])
        obj = build_objective(table, names)
        if hasattr(obj, "prepare"):
            obj.prepare()
    except ObjectiveError as exc:
        raise ConfigError(str(exc)) from None
    return obj


def make_executor(cfg: StudyConfig, objective: Any, directory: Path,
                  close_in_child: tuple[int, ...] = ()) -> Executor:
    """Where the study's trials run, as its [executor] table says."""
    key = getattr(objective, "key", "objective")
    if cfg.executor.get("type", "local") == "slurm":
        options = {k: v for k, v in cfg.executor.items() if k != "type"}
        try:
            return SlurmExecutor(objective, folder=directory / "slurm", result_key=key,
                                 job_name=f"autodehypo-{cfg.name}", **options)
        except SlurmError as exc:
            raise ConfigError(f"executor: {exc}") from None
    executor = local_executor(objective, cfg.executor, result_key=key)
    executor.close_in_child = close_in_child
    return executor


def local_executor(objective: Callable[[dict[str, Any]], Any], table: dict[str, Any],
                   **kwargs: Any) -> LocalExecutor:
    try:
        return LocalExecutor(objective, **{k: v for k, v in table.items() if k != "type"}, **kwargs)
    except ValueError as exc:  # more trials at once than the GPUs allow
        raise ConfigError(f"executor.{exc}") from None


def open_configured_meters(cfg: StudyConfig) -> tuple[list, dict[str, str]]:
    try:
        return open_meters(cfg.energy.meters)
    except MeterUnavailable as exc:
        raise ConfigError(f"energy.meters: {exc}") from None


def _make_directory(directory: Path) -> bool:
    """Create the study directory; True if this call created it (so that a failure may remove it)."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    try:
        directory.mkdir()
    except FileExistsError:
        if not directory.is_dir():
            raise
        return False
    return True


def _import_path(function: Callable) -> str:
    return f"{getattr(function, '__module__', '?')}:{getattr(function, '__qualname__', '?')}"
