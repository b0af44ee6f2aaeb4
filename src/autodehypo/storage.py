"""One SQLite file per study: the config, every trial, and the optimizer's state.

Only the driver writes; readers (``status``, ``report``, ``export``) never change
the file (a read-only or ``query_only`` connection). Each step of the driver is
one transaction: a trial asked is stored with the optimizer state after the ask,
a finished trial with its told value (its place in the order of tells) and the
state after the tell. So the file always holds a state and the trials it knows
of, and a resumed driver continues from there. The file holds one state, the
current one, without the part that only grows (the pre-screening's evaluated
points: Search.state_parts), whose rows are appended beside it as they come; at
the end of each generation (async: window) only the search's summary of itself
is kept, for the reports. So the file grows with the trials and each step writes
what changed, not the size of the state (schema version 2; version 1 kept the
whole state of every generation, and a driver that writes such a file migrates it).

On a local file system the file is in WAL mode with ``synchronous=NORMAL``: a
commit appends to the write-ahead log without waiting for the disk, readers
never write and never wait for the driver, and a killed driver leaves nothing a
reader must repair. That is durable against any crash of a process (the log is
in the kernel's page cache the moment the commit returns); a power loss or a
kernel crash may lose the last transactions before a checkpoint, never corrupt
the file, and a resume reruns what was lost. WAL needs shared memory between
all users of the file, which network file systems do not give, so there the
file keeps SQLite's rollback journal with a synchronous commit, and a reader
that meets a crashed driver's journal reads a private copy instead.
"""

from __future__ import annotations

import errno
import functools
import json
import math
import os
import shutil
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)  # version 1: a full state per checkpoint; migrated when written
DB_NAME = "study.db"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    number INTEGER PRIMARY KEY,
    generation INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    params TEXT NOT NULL,
    unit TEXT NOT NULL,
    status TEXT NOT NULL,
    value REAL,
    told_value REAL,
    metrics TEXT,
    error TEXT,
    started_at REAL,
    ended_at REAL,
    elapsed_s REAL,
    cpu_time_s REAL,
    peak_rss_mb REAL,
    energy_j REAL,
    energy_source TEXT,
    energy_detail TEXT,
    host TEXT,
    attempt INTEGER NOT NULL DEFAULT 0,
    job_id TEXT,
    pgid INTEGER,
    pgid_start TEXT,
    told_seq INTEGER,
    asked_after INTEGER,
    fidelity REAL,
    continues INTEGER,
    fidelity_from REAL,
    objective_values TEXT,
    told_values TEXT,
    gpus TEXT
);
CREATE TABLE optimizer (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL,
    evaluations INTEGER NOT NULL,
    driver_elapsed_s REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE checkpoints (
    generation INTEGER PRIMARY KEY,
    evaluations INTEGER NOT NULL,
    driver_elapsed_s REAL NOT NULL,
    created_at REAL NOT NULL,
    summary TEXT,
    state TEXT
);
CREATE TABLE history (
    row INTEGER PRIMARY KEY,
    data BLOB NOT NULL
);
"""

# Trial states. PENDING: asked, not started; RUNNING: started by the driver now
# (or when it died); COMPLETE and FAILED are final.
PENDING, RUNNING, COMPLETE, FAILED = "pending", "running", "complete", "failed"
STATUSES = (PENDING, RUNNING, COMPLETE, FAILED)

TRIAL_COLUMNS = ("number", "generation", "idx", "params", "unit", "status", "value", "told_value",
                 "metrics", "error", "started_at", "ended_at", "elapsed_s", "cpu_time_s",
                 "peak_rss_mb", "energy_j", "energy_source", "energy_detail", "host", "attempt", "job_id",
                 "pgid", "pgid_start", "told_seq", "asked_after", "fidelity", "continues",
                 "fidelity_from", "objective_values", "told_values", "gpus")
_JSON_COLUMNS = {"params", "unit", "metrics", "energy_detail", "objective_values", "told_values", "gpus"}
_JSON_TYPES = {"params": dict, "unit": list, "metrics": dict, "energy_detail": dict,
               "objective_values": list, "told_values": list, "gpus": list}
# Columns that hold a number (or NULL); what else is stored there was not written by autodehypo.
_NUMBER_COLUMNS = ("value", "told_value", "started_at", "ended_at", "elapsed_s", "cpu_time_s", "peak_rss_mb",
                   "energy_j", "fidelity", "fidelity_from")
_INTEGER_COLUMNS = ("number", "generation", "idx", "attempt", "pgid", "told_seq", "asked_after", "continues")
# What each meta key the commands read must hold.
_META_TYPES = {"schema_version": int, "config": dict, "config_toml": str, "created_at": (int, float),
               "state": str, "space_encoding": int, "search_defaults": int, "driver_elapsed_s": (int, float),
               "energy_sources": dict, "environments": list, "uid": str}
# A failed trial is told +inf for every objective; JSON has no inf, so such a list stores null.
_INF_LISTS = {"told_values"}
# Columns added to schema versions 1 and 2 without a new version: an older autodehypo reads a file
# that has them (it selects the columns it knows), and this one adds them to an older file it writes.
_ADDED_COLUMNS = {"pgid": "INTEGER", "pgid_start": "TEXT", "told_seq": "INTEGER",
                  "asked_after": "INTEGER", "fidelity": "REAL", "continues": "INTEGER",
                  "fidelity_from": "REAL", "objective_values": "TEXT", "told_values": "TEXT", "gpus": "TEXT"}
# Likewise a table: the optimizer's state after the driver's last step (older files kept only
# the state after each generation, in checkpoints).
_OPTIMIZER_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE optimizer"):_SCHEMA.index("CREATE TABLE checkpoints")]
# Version 2's checkpoints: a summary per generation instead of a state (a version-1 file's states
# stay where they are, and the reports summarize them).
_CHECKPOINTS_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE checkpoints"):_SCHEMA.index("CREATE TABLE history")]
# Version 2's history: the rows of the search's history (Search.state_parts), float64 bytes each,
# appended as the search makes them, beside a state that no longer holds them.
_HISTORY_TABLE = _SCHEMA[_SCHEMA.index("CREATE TABLE history"):].rstrip().rstrip(";")
# File systems whose users may sit on other hosts: no shared memory, so no WAL there.
_NETWORK_FS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "glusterfs",
               "fuse.glusterfs", "fuse.sshfs", "9p", "afs", "ocfs2", "gfs2", "pvfs2", "orangefs")


class StorageError(RuntimeError):
    """The study file is missing, from another version, damaged, or cannot be written."""


class _BadValue(Exception):
    """A stored value this autodehypo did not write: the file was edited or damaged."""


def diagnose(path: Path, exc: BaseException, *, creating: bool = False) -> str:
    """One line saying what is wrong with the study file ``path`` and what can be done
    (``creating``: while the study is made, when there is nothing yet to resume)."""
    directory, text = Path(path).parent, str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lower = text.lower()
    if isinstance(exc, UnicodeDecodeError):
        text = f"text that is not UTF-8 ({exc.reason} at byte {exc.start})"
    if isinstance(exc, (_BadValue, UnicodeDecodeError)):
        return f"{path}: {text}; the file was changed by something other than autodehypo: restore it from a backup"
    if (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) or "full" in lower) and creating:
        return f"{directory}: disk full ({text}); nothing was created: free space there and run again"
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) or "full" in lower:
        return (f"{directory}: disk full ({text}); finished trials are kept: free space there, then "
                f"`autodehypo resume {directory}` continues the study")
    if "malformed" in lower or "not a database" in lower:
        return (f"{path}: sqlite: {text}; restore it from a backup, or salvage what is readable with "
                f"`sqlite3 {path} .recover`")
    if "no such table" in lower or "no such column" in lower:
        return f"{path}: sqlite: {text}: the file is damaged or not a study; restore it from a backup"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) \
            or "readonly" in lower or "read-only" in lower or "unable to open" in lower:
        return (f"{directory}: cannot write the study ({text}); make the directory and its files "
                "writable by this user, or copy the study somewhere writable")
    if "i/o error" in lower:
        return f"{path}: sqlite: {text}; check the disk (dmesg) and free space, then resume"
    if "locked" in lower or "busy" in lower:
        return f"{path}: sqlite: {text}; another program holds the file; close it and try again"
    return f"{path}: sqlite: {text}"


def _guarded(method):
    """Turn SQLite's errors inside a storage method into a StorageError that says what to do."""
    @functools.wraps(method)
    def wrapper(self: "Storage", *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, _BadValue, UnicodeDecodeError) as exc:
            raise StorageError(diagnose(self.path, exc)) from exc
    return wrapper


def _loads(text: Any, what: str) -> Any:
    if not isinstance(text, str):
        raise _BadValue(f"{what} holds {type(text).__name__} {text!r:.60}, not JSON text")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise _BadValue(f"{what} holds bad JSON ({exc})") from None


def _state(text: Any, what: str) -> dict[str, Any]:
    state = _loads(text, what)
    if not isinstance(state, dict) or not _is_integer(state.get("generation")):
        raise _BadValue(f"{what} holds {type(state).__name__} {text!r:.40}, not an optimizer's state")
    return state


def _checkpoint(row: sqlite3.Row) -> dict[str, Any]:
    what = f"checkpoint {row['generation']}"
    summary = row["summary"] if "summary" in row.keys() else None
    if summary is not None:
        summary = _loads(summary, what)
        if not isinstance(summary, dict):
            raise _BadValue(f"{what} holds {type(summary).__name__} {row['summary']!r:.40}, not a summary")
    state = None if row["state"] is None else _state(row["state"], what)
    if summary is None and state is None:
        raise _BadValue(f"{what} holds neither a summary nor a state")
    if not _is_integer(row["generation"]) or not _is_integer(row["evaluations"]):
        raise _BadValue(f"{what}: generation and evaluations must be integers")
    return {"generation": row["generation"], "evaluations": row["evaluations"],
            "driver_elapsed_s": row["driver_elapsed_s"], "summary": summary, "state": state}


def network_file_system(directory: Path) -> bool:
    """Whether ``directory`` lies on a file system other hosts may use (NFS, Lustre, ...)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            mounts = [line.split() for line in f]
    except OSError:
        return False  # not Linux: assume local
    real, best, fstype = os.path.realpath(directory), "", ""
    for fields in mounts:
        if "-" not in fields:
            continue
        point = fields[4].replace("\\040", " ")
        inside = real == point or real.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, fields[fields.index("-") + 1]
    return fstype in _NETWORK_FS or fstype.startswith("fuse.")


@dataclass
class TrialRecord:
    number: int
    generation: int
    idx: int
    params: dict[str, Any]
    unit: list[float]
    status: str = PENDING
    value: float | None = None
    told_value: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    elapsed_s: float | None = None
    cpu_time_s: float | None = None
    peak_rss_mb: float | None = None
    energy_j: float | None = None
    energy_source: str | None = None
    energy_detail: dict[str, Any] | None = None
    host: str | None = None
    attempt: int = 0
    job_id: str | None = None  # the Slurm job (array task) running the trial
    pgid: int | None = None  # the local trial's process group, to end what a dead driver left running
    pgid_start: str | None = None  # its leader's "boot_id start_ticks", so a reused pid is never hit
    told_seq: int | None = None  # its place in the order in which results were told to the optimizer
    asked_after: int | None = None  # how many results had been told when it was asked
    fidelity: float | None = None  # multi-fidelity: the budget it trained to (epochs, ...)
    continues: int | None = None  # the trial whose checkpoint it continues
    fidelity_from: float | None = None  # where its training started (0: from scratch)
    # Studies of several objectives: each objective's value in its own direction (value is the
    # first), and the minimized vector told (+inf each for a failed trial).
    objective_values: list[float] | None = None
    told_values: list[float] | None = None
    gpus: list[str] | None = None  # the GPUs the local executor gave it (its CUDA_VISIBLE_DEVICES)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _encode(column: str, value: Any) -> Any:
    if column in _INF_LISTS and value is not None:
        value = [v if math.isfinite(v) else None for v in value]
    if column in _JSON_COLUMNS:
        return None if value is None else json.dumps(value, allow_nan=False, default=_json_default)
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    return value


def _json_default(obj: Any) -> Any:
    # numpy scalars and the like from user objectives
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _decode_row(row: sqlite3.Row) -> TrialRecord:
    values = {}
    present = row.keys()
    for column in TRIAL_COLUMNS:
        v = row[column] if column in present else None  # an older file lacks the added columns
        if column in _JSON_COLUMNS and v is not None:
            v = _loads(v, f"trial {row['number']}: {column}")
            if not isinstance(v, _JSON_TYPES[column]):
                raise _BadValue(f"trial {row['number']}: {column} holds {type(v).__name__}, "
                                f"expected a JSON {'object' if _JSON_TYPES[column] is dict else 'array'}")
        if column in _INF_LISTS and v is not None:
            v = [math.inf if x is None else x for x in v]
        if v is not None and (column in _NUMBER_COLUMNS and not _is_number(v)
                              or column in _INTEGER_COLUMNS and not _is_integer(v)):
            raise _BadValue(f"trial {row['number']}: {column} holds {v!r:.40}, not "
                            f"{'a number' if column in _NUMBER_COLUMNS else 'an integer'}")
        if column in ("objective_values", "told_values") and v is not None \
                and not all(_is_number(x) for x in v):
            raise _BadValue(f"trial {row['number']}: {column} holds {v!r:.60}, not a list of numbers")
        values[column] = v
    if values["status"] not in STATUSES:
        raise _BadValue(f"trial {values['number']} has unknown status {values['status']!r} "
                        f"(expected one of {', '.join(STATUSES)})")
    if values["metrics"] is None:
        values["metrics"] = {}
    return TrialRecord(**values)


class Storage:
    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._copy_dir: str | None = None  # a reader's private copy, after a crashed driver's journal
        self.conn = self._connect(self.path)

    def _connect(self, path: Path) -> sqlite3.Connection:
        # A reader of a file in WAL mode that may write the directory opens it as a writer would
        # but refuses to change it (query_only): then the last connection to close removes the WAL
        # files, which a read-only connection leaves beside a finished study. Elsewhere (a
        # rollback journal, whose hot journal such a reader would roll back) it opens read-only.
        query_only = (self.readonly and _wal_mode(Path(path)) and os.access(path, os.W_OK)
                      and os.access(Path(path).parent, os.W_OK))
        try:
            if self.readonly and not query_only:
                conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            else:
                conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            if query_only:
                conn.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from None
        conn.row_factory = sqlite3.Row
        return conn

    @classmethod
    def create(cls, directory: Path, config: dict[str, Any], config_text: str,
               space_encoding: int = 1, search_defaults: int = 1) -> "Storage":
        """Write a new study file; it appears complete or not at all, and only once.

        The file is written under a name of its own, then hard-linked to its final name. A link
        fails if that name exists, so of two drivers creating one study at the same moment one
        wins and the other is told, and nobody ever sees a half-written or empty study.db.
        """
        directory = Path(directory)
        final = directory / DB_NAME
        partial = directory / f"{DB_NAME}.{os.getpid()}-{os.urandom(4).hex()}.partial"
        try:
            storage = cls(partial)
            try:
                with storage.transaction():
                    for statement in _SCHEMA.split(";"):
                        if statement.strip():
                            storage.conn.execute(statement)
                    storage._set_meta_many({"schema_version": SCHEMA_VERSION, "config": config,
                                            "config_toml": config_text, "created_at": time.time(),
                                            "state": "created", "space_encoding": space_encoding,
                                            "search_defaults": search_defaults, "uid": uuid.uuid4().hex})
            finally:
                storage.close()  # in rollback-journal mode: nothing is left beside the file
            try:
                os.link(partial, final)
            except FileExistsError:
                raise StorageError(f"{directory} already holds a study; continue it with "
                                   f"`autodehypo resume {directory}` or choose another --dir") from None
            except OSError as exc:
                if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK):
                    raise
                # A file system without hard links: check, then rename (a race stays possible there).
                if final.exists():
                    raise StorageError(f"{directory} already holds a study; continue it with "
                                       f"`autodehypo resume {directory}` or choose another --dir") from None
                os.rename(partial, final)
        except (sqlite3.Error, OSError) as exc:
            raise StorageError(diagnose(final, exc, creating=True)) from None
        finally:
            for leftover in (partial, partial.with_name(partial.name + "-journal")):
                try:
                    leftover.unlink()
                except OSError:
                    pass
        # Reopen under the final name: SQLite names its journal after the path it opened.
        return cls.open(directory)

    @classmethod
    def open(cls, directory: Path, *, readonly: bool = False) -> "Storage":
        path = Path(directory) / DB_NAME
        if path.is_dir() or (path.exists() and not path.is_file()):
            raise StorageError(f"{path}: not a regular file; move it away, it cannot hold a study")
        if not path.is_file():
            raise StorageError(f"{directory}: no study here (no {DB_NAME})")
        storage = cls(path, readonly=readonly)
        try:
            try:
                version = storage._schema_version()
            except sqlite3.OperationalError as exc:
                if not readonly or not _reader_must_copy(exc):
                    raise
                storage._read_a_copy()
                version = storage._schema_version()
            if version not in READABLE_VERSIONS:
                raise StorageError(f"{path}: schema version {version}, this autodehypo reads "
                                   f"{' and '.join(map(str, READABLE_VERSIONS))}; use the autodehypo "
                                   "version that wrote it")
            storage._check_structure()
            if not readonly:
                storage._prepare_writer()
        except (_BadValue, UnicodeDecodeError) as exc:
            storage.close()
            raise StorageError(diagnose(path, exc)) from None
        except sqlite3.DatabaseError as exc:
            storage.close()
            if "no such table" in str(exc) or "file is not a database" in str(exc):
                raise StorageError(f"{path}: not a study database ({exc}); restore it from a backup "
                                   "or choose another --dir") from None
            raise StorageError(diagnose(path, exc)) from None
        except BaseException:
            storage.close()
            raise
        return storage

    @_guarded
    def _check_structure(self) -> None:
        """What every command needs of the file, checked once when it is opened: the tables and
        columns autodehypo writes, and meta values of the right kinds (the config a table). Trials
        and states are checked as they are read (a trial's values, a state that is not one)."""
        tables = {row[0] for row in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        missing = [t for t in ("meta", "trials", "checkpoints") if t not in tables]
        if missing:
            raise _BadValue(f"no such table: {', '.join(missing)}")
        present = {row["name"] for row in self.conn.execute("PRAGMA table_info(trials)")}
        lacking = [c for c in TRIAL_COLUMNS if c not in present and c not in _ADDED_COLUMNS]
        if lacking:
            shown = ", ".join(lacking[:4]) + (f" and {len(lacking) - 4} more" if len(lacking) > 4 else "")
            raise _BadValue(f"the trials table lacks the column(s) {shown}")
        for (key,) in self.conn.execute("SELECT key FROM meta").fetchall():
            self.meta(key)  # raises for a value of the wrong kind
        if self.meta("config") is None:
            raise _BadValue("no stored config (meta config)")

    def _schema_version(self) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            raise sqlite3.DatabaseError("no schema_version in table meta")
        return _loads(row[0], "meta schema_version")

    def _read_a_copy(self) -> None:
        """Read a private copy: SQLite lets its first writer repair what a crashed driver left.

        A reader cannot roll back a hot rollback journal (nor create the WAL index in a
        directory it may not write); in a copy of its own it may, and the study is untouched.
        """
        self.conn.close()
        self._copy_dir = tempfile.mkdtemp(prefix="autodehypo-read-")
        copy = Path(self._copy_dir) / DB_NAME
        for suffix in ("", "-journal", "-wal"):
            source = self.path.with_name(self.path.name + suffix)
            try:
                shutil.copyfile(source, copy.with_name(copy.name + suffix))
            except FileNotFoundError:
                pass
        self.readonly = False
        self.conn = self._connect(copy)
        self.readonly = True

    def _prepare_writer(self) -> None:
        mode = "delete" if network_file_system(self.path.parent) else "wal"
        self.conn.execute(f"PRAGMA journal_mode={mode}")
        # WAL with synchronous=NORMAL: a commit survives any process crash (the module docstring
        # says what a power loss may cost); rollback-journal mode keeps the full, synchronous commit.
        self.conn.execute("PRAGMA synchronous=" + ("NORMAL" if mode == "wal" else "FULL"))
        if self._schema_version() == 1:
            self._migrate_from_1()
        if self._missing_columns():
            with self.transaction():
                self._add_columns()

    def _migrate_from_1(self) -> None:
        """Version 1 to 2, in one transaction: the columns and the table added to version 1 over
        time, and the checkpoints table rebuilt to take summaries (its states are kept)."""
        with self.transaction():
            self._add_columns()
            self.conn.execute(_OPTIMIZER_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS")
                              .rstrip().rstrip(";"))
            self.conn.execute("ALTER TABLE checkpoints RENAME TO checkpoints_v1")
            self.conn.execute(_CHECKPOINTS_TABLE)
            self.conn.execute("INSERT INTO checkpoints (generation, evaluations, driver_elapsed_s, created_at, "
                              "state) SELECT generation, evaluations, driver_elapsed_s, created_at, state "
                              "FROM checkpoints_v1")
            self.conn.execute("DROP TABLE checkpoints_v1")
            self.conn.execute(_HISTORY_TABLE.replace("CREATE TABLE", "CREATE TABLE IF NOT EXISTS"))
            self._set_meta_many({"schema_version": 2})

    def _missing_columns(self) -> list[str]:
        """Columns added to versions 1 and 2 since that this file lacks (an older autodehypo reads
        past them)."""
        present = {r["name"] for r in self.conn.execute("PRAGMA table_info(trials)")}
        return [c for c in _ADDED_COLUMNS if c not in present]

    def _add_columns(self) -> None:
        """Add the missing columns; the caller holds the transaction."""
        for column in self._missing_columns():
            self.conn.execute(f"ALTER TABLE trials ADD COLUMN {column} {_ADDED_COLUMNS[column]}")

    def close(self) -> None:
        self.conn.close()
        if self._copy_dir is not None:
            shutil.rmtree(self._copy_dir, ignore_errors=True)
            self._copy_dir = None

    # -- transactions -------------------------------------------------------
    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, exc, tb):
            if exc_type is None:
                try:
                    self.conn.execute("COMMIT")
                    return False
                except sqlite3.Error:
                    self._rollback()
                    raise
            self._rollback()
            return False

        def _rollback(self) -> None:
            if self.conn.in_transaction:
                try:
                    self.conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite already rolled back (disk full); the first error says why

    def transaction(self) -> "_Tx":
        return Storage._Tx(self.conn)

    # -- meta ---------------------------------------------------------------
    @_guarded
    def meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        if row is None:
            return default
        value = _loads(row[0], f"meta {key}")
        kind = _META_TYPES.get(key)
        if kind is not None and value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise _BadValue(f"meta {key} holds {type(value).__name__} {value!r:.40}, not "
                            f"{'a table' if kind is dict else 'a list' if kind is list else 'text' if kind is str else 'a number'}")
        return value

    @property
    def search_defaults(self) -> int:
        """The version of the default search the study was made with; a file from before it was
        recorded used the first."""
        return self.meta("search_defaults") or 1

    def _set_meta_many(self, items: dict[str, Any]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                              [(k, json.dumps(v)) for k, v in items.items()])

    @_guarded
    def set_meta(self, **items: Any) -> None:
        with self.transaction():
            self._set_meta_many(items)

    # -- trials -------------------------------------------------------------
    @_guarded
    def add_trials(self, trials: list[TrialRecord]) -> None:
        with self.transaction():
            self.conn.executemany(
                f"INSERT INTO trials ({', '.join(TRIAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(TRIAL_COLUMNS))})",
                [tuple(_encode(c, getattr(t, c)) for c in TRIAL_COLUMNS) for t in trials])

    def _update(self, trial: TrialRecord, columns: tuple[str, ...]) -> None:
        self.conn.execute(
            f"UPDATE trials SET {', '.join(f'{c} = ?' for c in columns)} WHERE number = ?",
            [_encode(c, getattr(trial, c)) for c in columns] + [trial.number])

    def update_trial(self, trial: TrialRecord) -> None:
        self.update_trials([trial])

    @_guarded
    def update_trials(self, trials: list[TrialRecord], columns: tuple[str, ...] = TRIAL_COLUMNS[5:]) -> None:
        """Write the given columns of several trials in one transaction."""
        with self.transaction():
            for trial in trials:
                self._update(trial, columns)

    @_guarded
    def delete_trials(self, numbers: list[int]) -> None:
        with self.transaction():
            self.conn.executemany("DELETE FROM trials WHERE number = ?", [(n,) for n in numbers])

    @_guarded
    def trials(self, generation: int | None = None) -> list[TrialRecord]:
        if generation is None:
            rows = self.conn.execute("SELECT * FROM trials ORDER BY number")
        else:
            rows = self.conn.execute("SELECT * FROM trials WHERE generation = ? ORDER BY idx",
                                     (generation,))
        return [_decode_row(r) for r in rows]

    @_guarded
    def trial(self, number: int) -> TrialRecord:
        row = self.conn.execute("SELECT * FROM trials WHERE number = ?", (number,)).fetchone()
        if row is None:
            raise StorageError(f"{self.path}: no trial {number}")
        return _decode_row(row)

    @_guarded
    def unfinished_with_processes(self) -> list[TrialRecord]:
        """Trials not known to have ended whose process group was recorded."""
        rows = self.conn.execute("SELECT * FROM trials WHERE status IN (?, ?) AND pgid IS NOT NULL "
                                 "ORDER BY number", (PENDING, RUNNING))
        return [_decode_row(r) for r in rows]

    @_guarded
    def next_trial_number(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM trials").fetchone()
        return int(row[0])

    # -- the optimizer's steps ------------------------------------------------
    def _save_state(self, state: dict[str, Any], history: np.ndarray | None, evaluations: int,
                    driver_elapsed_s: float) -> None:
        """Store the current state, and the rows of the search's history the file lacks."""
        self.conn.execute("INSERT OR REPLACE INTO optimizer VALUES (1, ?, ?, ?, ?)",
                          (json.dumps(state), evaluations, driver_elapsed_s, time.time()))
        if history is not None:
            stored = self.conn.execute("SELECT COALESCE(MAX(row) + 1, 0) FROM history").fetchone()[0]
            rows = np.ascontiguousarray(history[stored:], dtype="<f8")
            self.conn.executemany("INSERT INTO history VALUES (?, ?)",
                                  [(stored + i, row.tobytes()) for i, row in enumerate(rows)])

    @_guarded
    def add_asked(self, trials: list[TrialRecord], state: dict[str, Any], evaluations: int,
                  driver_elapsed_s: float, history: np.ndarray | None = None) -> None:
        """Store newly asked trials with the optimizer state after the asks (and its history,
        Search.state_parts), atomically."""
        with self.transaction():
            self.conn.executemany(
                f"INSERT INTO trials ({', '.join(TRIAL_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(TRIAL_COLUMNS))})",
                [tuple(_encode(c, getattr(t, c)) for c in TRIAL_COLUMNS) for t in trials])
            self._save_state(state, history, evaluations, driver_elapsed_s)

    @_guarded
    def record_told(self, trials: list[TrialRecord], state: dict[str, Any], evaluations: int,
                    driver_elapsed_s: float, summary: dict[str, Any] | None = None,
                    history: np.ndarray | None = None) -> None:
        """Store told trials (results, told values, their order) with the state after the tells,
        atomically; ``summary``, at the end of a generation: the search's, kept in the checkpoints."""
        with self.transaction():
            for t in trials:
                self._update(t, TRIAL_COLUMNS[5:])
            self._save_state(state, history, evaluations, driver_elapsed_s)
            if summary is not None:
                self.conn.execute(
                    "INSERT OR REPLACE INTO checkpoints (generation, evaluations, driver_elapsed_s, "
                    "created_at, summary) VALUES (?, ?, ?, ?, ?)",
                    (state["generation"], evaluations, driver_elapsed_s, time.time(),
                     json.dumps(summary, allow_nan=False)))
            self._set_meta_many({"driver_elapsed_s": driver_elapsed_s})

    @_guarded
    def current_state(self) -> dict[str, Any] | None:
        """The optimizer state after the driver's last step (from an older file: its last
        generation's) and the search's history (rows, or None), with the evaluations and driver
        time then; None before any."""
        has_table = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'optimizer'").fetchone()
        row = self.conn.execute("SELECT * FROM optimizer WHERE id = 1").fetchone() if has_table else None
        if row is None:  # a version-1 file from before the table: its last generation's state
            last = self.last_checkpoint()
            return {**last, "history": None} if last is not None and last["state"] is not None else None
        return {"state": _state(row["state"], "the optimizer state"), "history": self._history(),
                "evaluations": row["evaluations"], "driver_elapsed_s": row["driver_elapsed_s"]}

    def _history(self) -> np.ndarray | None:
        has_table = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'history'").fetchone()
        blobs = [r[0] for r in self.conn.execute("SELECT data FROM history ORDER BY row")] if has_table else []
        if not blobs:
            return None
        if any(not isinstance(b, bytes) or len(b) != len(blobs[0]) or len(b) % 8 for b in blobs):
            raise _BadValue("the history's rows differ in length or are not float64 bytes")
        return np.frombuffer(b"".join(blobs), dtype="<f8").reshape(len(blobs), -1).copy()

    @_guarded
    def next_told_seq(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(told_seq) + 1, 0) FROM trials").fetchone()
        return int(row[0])

    @_guarded
    def last_checkpoint(self) -> dict[str, Any] | None:
        """The last generation's checkpoint (as :meth:`iter_checkpoints` gives them), or None."""
        row = self.conn.execute(
            "SELECT * FROM checkpoints ORDER BY generation DESC LIMIT 1").fetchone()
        return None if row is None else _checkpoint(row)

    @_guarded
    def iter_checkpoints(self) -> Iterator[dict[str, Any]]:
        """Each generation's checkpoint: its number, the evaluations then, and the search's
        ``summary`` (a version-1 file holds the ``state`` instead; the other one is None)."""
        rows = [_checkpoint(row) for row in self.conn.execute("SELECT * FROM checkpoints ORDER BY generation")]
        return iter(rows)


def _wal_mode(path: Path) -> bool:
    """Whether the database file's header says WAL (bytes 18 and 19 are 2; 1 is a rollback journal)."""
    try:
        with open(path, "rb") as f:
            header = f.read(20)
    except OSError:
        return False
    return len(header) == 20 and header[18] == 2 and header[19] == 2


def _reader_must_copy(exc: sqlite3.OperationalError) -> bool:
    """A read-only connection refused by what a crashed writer left (hot journal, no WAL index)."""
    text = str(exc).lower()
    return "readonly" in text or "read-only" in text or "unable to open" in text
