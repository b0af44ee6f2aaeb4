"""The ``autodehypo`` command.

Exit codes: 0 done, 2 bad config or arguments, 3 study file or lock problem,
4 finished without a completed trial (every trial failed; stderr names one
trial's log and reason), 130 interrupted (resume with ``autodehypo resume DIR``).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .config import ConfigError, load_config
from .reports import plots as plot_kinds
from .reports.tables import FORMATS
from .reports.text import (export_csv, export_parquet, format_duration, format_energy, format_params,
                           format_value, report_text, status_text)
from .storage import FAILED, StorageError
from .trial_progress import describe, read_live
from .execution.slurm_driver import DriverJob, driver_script, requeue_self, submit
from .study.driver_lock import driver_alive
from .direction import best_trial
from .study import Interrupted, Progress, Study, open_storage

EXIT_OK, EXIT_USAGE, EXIT_STORAGE, EXIT_NO_TRIAL, EXIT_INTERRUPTED = 0, 2, 3, 4, 130
EXIT_CODES = ("exit codes: 0 done, 1 internal error, 2 bad config or arguments, 3 study file problem "
              "(missing, locked by another driver, already exists), 4 finished without a completed "
              "trial, 130 stopped by a signal (resume it)")


class UsageError(Exception):
    """A mistake on the command line, as opposed to one in the config file."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="autodehypo",
                     description="Energy-aware hyperparameter optimization with Differential Evolution.",
                     epilog=EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"autodehypo {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="start a study from a TOML config")
    run.add_argument("config", help="TOML config file")
    run.add_argument("--dir", help="study directory (default: studies/<study name>)")
    run.add_argument("--workers", type=int, help="trials run at once (default: number of cores)")
    run.add_argument("--seed", type=int, help="override study.seed")
    run.add_argument("--check", action="store_true",
                     help="check the config and the study directory as run does, create nothing")

    resume = sub.add_parser("resume", help="continue a study from its last checkpoint")
    resume.add_argument("dir", help="study directory")

    status = sub.add_parser("status", help="generation, evaluations, best so far, energy so far")
    status.add_argument("dir", help="study directory")

    report = sub.add_parser("report", help="the results table (best value, elapsed time, energy) of one "
                                            "or more studies; one study alone also gets its summary")
    report.add_argument("dirs", nargs="+", metavar="DIR", help="study directories")
    report.add_argument("--group-by", metavar="PARAM",
                        help="one row per value of this parameter (searched or fixed)")
    report.add_argument("--format", choices=FORMATS, default="text")
    report.add_argument("-o", "--output", help="file to write (default: stdout)")

    plot = sub.add_parser("plot", help="convergence, value-against-energy (Pareto), energy by a "
                                       "parameter, adaptation of the population and F/CR memories")
    plot.add_argument("dirs", nargs="+", metavar="DIR", help="study directories (several seeds: "
                                                             "median and quartiles)")
    plot.add_argument("--kind", choices=plot_kinds.KINDS, default="convergence")
    plot.add_argument("--x", choices=list(plot_kinds.X_AXES), default="evaluations",
                      help="convergence: against evaluations, wall time or energy")
    plot.add_argument("--by", metavar="PARAM", help="energy: the parameter on the x axis")
    plot.add_argument("-o", "--output", required=True, help="a .png or .svg file")

    slurm = sub.add_parser("slurm", help="run the driver itself as a requeueable Slurm batch job")
    slurm_sub = slurm.add_subparsers(dest="slurm_command", required=True, parser_class=_Parser)
    for name, text in (("script", "print the driver's sbatch script"),
                       ("submit", "create the study and submit its driver with sbatch")):
        p = slurm_sub.add_parser(name, help=text)
        p.add_argument("config", help="TOML config file")
        p.add_argument("--dir", help="study directory (default: studies/<study name>)")
        p.add_argument("--partition")
        p.add_argument("--account")
        p.add_argument("--qos")
        p.add_argument("--time", default="1-00:00:00", help="the driver job's time limit")
        p.add_argument("--mem", default="2G")
        p.add_argument("--cpus", type=int, default=1)

    dashboard = sub.add_parser("dashboard", help="a live page that follows studies while they run "
                                                  "(running trials, results, plots), read-only")
    dashboard.add_argument("dirs", nargs="+", metavar="DIR", help="study directories")
    dashboard.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default: localhost only; use an SSH tunnel)")
    dashboard.add_argument("--port", type=int, default=8765, help="default 8765; 0: any free port")
    dashboard.add_argument("--group-by", metavar="PARAM",
                           help="group the results table by this parameter when the page opens "
                                "(the page changes it)")
    dashboard.add_argument("--refresh", type=float, default=5.0, metavar="SECONDS",
                           help="how often the page updates (default 5)")

    export = sub.add_parser("export", help="every trial as one row")
    export.add_argument("dir", help="study directory")
    export.add_argument("--format", choices=["csv", "parquet"], default="csv")
    export.add_argument("-o", "--output", help="file to write (default: stdout; needed for parquet)")
    return parser


class ProgressView:
    """A redrawn progress bar on a terminal; a log line per generation otherwise."""

    WIDTH = 24

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self._last_generation: int | None = None
        self._epochs_seen: dict[int, object] = {}

    def __call__(self, p: Progress) -> None:
        fraction = self.fraction(p)
        eta = self.eta(p, fraction)
        line = (f"gen {p.generation}  {self.evaluations(p)}  running {p.running}"
                f"{self.running_epochs(p)}  "
                f"failed {p.failed}  {self.best(p)}  "
                f"energy {format_energy(p.energy_j)} ({'+'.join(p.energy_sources) or '-'})"
                f"{self.running_energy(p)}  {format_duration(p.elapsed_s)}" + (f"  ETA {format_duration(eta)}" if eta is not None else ""))
        if self.tty:
            filled = int(round(self.WIDTH * (fraction or 0.0)))
            bar = "[" + "#" * filled + "." * (self.WIDTH - filled) + "] "
            self.stream.write("\r\033[K" + bar + line + ("\n" if p.finished else ""))
            self.stream.flush()
        else:
            if p.finished or p.generation != self._last_generation:
                self._last_generation = p.generation
                print(line, file=self.stream, flush=True)
            self.log_epochs(p)

    @staticmethod
    def evaluations(p: Progress) -> str:
        """``evals 7/48``; with fidelities the budget counts full-fidelity trainings, not trials:
        ``evals 41 (11.3/12 full)``."""
        budget = p.config.budget.evaluations
        of = f"/{budget}" if budget is not None else ""
        if p.config.fidelity is None:
            return f"evals {p.evaluations}{of}"
        return f"evals {p.evaluations} ({p.units:.1f}{of} full)"

    @staticmethod
    def best(p: Progress) -> str:
        """``best 0.12``, or with several objectives ``front 7  best error 0.12`` (the first's)."""
        if p.front_size is None:
            return f"best {format_value(p.best_value)}"
        return f"front {p.front_size}  best {p.config.objectives[0].name} {format_value(p.best_value)}"

    @staticmethod
    def running_epochs(p: Progress, shown: int = 2) -> str:
        """`` [#12 ep 3/10, #13 ep 1/10 +2]``: where the running trials are, in a few characters."""
        marks = [f"#{t.number} ep {t.report['epoch']}" + (f"/{t.report['epochs']}" if "epochs" in t.report else "")
                 for t in p.live if "epoch" in t.report]
        if not marks:
            return ""
        more = f" +{len(marks) - shown}" if len(marks) > shown else ""
        return " [" + ", ".join(marks[:shown]) + more + "]"

    @staticmethod
    def running_energy(p: Progress) -> str:
        """`` +~40 J running``: the running trials' energy so far, an estimate until they end."""
        so_far = [t.energy_j for t in p.live if t.energy_j is not None]
        return f" +~{format_energy(sum(so_far))} running" if so_far else ""

    def log_epochs(self, p: Progress) -> None:
        """Without a terminal (a batch job's log), one line per epoch a running trial finishes,
        but its last: the trial's own line follows soon after."""
        for t in p.live:
            epoch, epochs = t.report.get("epoch"), t.report.get("epochs")
            if epoch is None or self._epochs_seen.get(t.number) == epoch:
                continue
            self._epochs_seen[t.number] = epoch
            if epochs is not None and epoch >= epochs:
                continue
            energy = f", ~{format_energy(t.energy_j)} estimate" if t.energy_j is not None else ""
            print(f"  trial {t.number}: {describe(t.report)}  ({format_duration(t.elapsed_s)}{energy})",
                  file=self.stream, flush=True)

    @staticmethod
    def fraction(p: Progress) -> float | None:
        """How much of the budget is spent: the largest share among its limits."""
        b = p.config.budget
        shares = []
        if b.evaluations:
            shares.append(p.units / b.evaluations)
        if b.wall_time_s:
            shares.append(p.elapsed_s / b.wall_time_s)
        if b.energy_j:
            shares.append(p.energy_j / b.energy_j)
        return min(1.0, max(shares)) if shares else None

    @staticmethod
    def eta(p: Progress, fraction: float | None) -> float | None:
        if p.finished or not fraction or fraction <= 0:
            return None
        return p.elapsed_s * (1.0 - fraction) / fraction


def _summary(study: Study, p: Progress) -> str:
    best = best_trial(study.storage.trials(), study.config.direction)
    lines = [f"study:   {study.config.name} ({study.directory})"]
    if study.config.objectives:
        lines += _front_summary(study)
    elif best is None:
        lines.append("best:    no trial completed")
    else:
        lines.append(f"best:    {format_value(best.value)} (trial {best.number})")
        lines.append("params:  " + format_params(best.params))
    lines.append(f"elapsed: {format_duration(p.elapsed_s)}")
    energy = study.config.energy
    sources = ", ".join(p.energy_sources) or "none"
    note = (f"; estimate = CPU time x {energy.watts_per_core:g} W per core"
            if "estimate" in p.energy_sources else "")
    lines.append(f"energy:  {format_energy(p.energy_j)} (source: {sources}{note})")
    lines.append(f"trials:  {p.evaluations} run, {p.failed} failed")
    return "\n".join(lines)


def _front_summary(study: Study) -> list[str]:
    """Several objectives: the front's size and its knee, as the report shows them."""
    from .reports.front import front_trials, knee_trial, objectives_of
    objectives = objectives_of(study.storage.meta("config"))
    front = front_trials(study.storage.trials(), objectives)
    if not front:
        return ["front:   no trial completed"]
    knee = knee_trial(front, objectives)
    values = ", ".join(f"{o.name} {format_value(v)}" for o, v in zip(objectives, knee.objective_values))
    return [f"front:   {len(front)} trials (`autodehypo report {study.directory}` lists them)",
            f"knee:    trial {knee.number}: {values}", "params:  " + format_params(knee.params)]


def _no_trial_line(study: Study) -> str:
    """Why a study ended with nothing to show, pointing at one failed trial's log."""
    failed = [t for t in study.storage.trials() if t.status == FAILED]
    if not failed:
        return "autodehypo: finished without a completed trial: no trial ran within the budget"
    first = failed[0]
    log = study.directory / "trials" / f"{first.number:06d}.log"
    reason = (first.error or "no reason recorded").strip().splitlines()[0]  # a Slurm reason holds its job log
    return (f"autodehypo: finished without a completed trial: all {len(failed)} trials failed; "
            f"trial {first.number}: {reason} (log: {log})")


def _run_study(study: Study) -> int:
    try:
        progress = study.run(ProgressView())
        print(_summary(study, progress))
        if best_trial(study.storage.trials(), study.config.direction) is None:
            sys.stdout.flush()
            print(_no_trial_line(study), file=sys.stderr)
            return EXIT_NO_TRIAL
    except Interrupted as exc:
        if str(exc) == "SIGUSR1" and requeue_self():
            print("\nautodehypo: time limit near: checkpointed and requeued this driver job", file=sys.stderr)
            return EXIT_OK
        print(f"\nautodehypo: stopped by {exc}; continue with: autodehypo resume {study.directory}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        study.close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
    except KeyboardInterrupt:
        print("autodehypo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    try:
        return _dispatch(args)
    except UsageError as exc:  # worded as argparse words its own errors
        command = " ".join(filter(None, (args.command, getattr(args, "slurm_command", None))))
        print(f"autodehypo {command}: error: {exc} (see --help)", file=sys.stderr)
        return EXIT_USAGE
    except ConfigError as exc:
        print(f"autodehypo: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as exc:
        print(f"autodehypo: {exc}", file=sys.stderr)
        return EXIT_STORAGE
    except KeyboardInterrupt:
        print("autodehypo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:
        if args.verbose:
            raise
        print(f"autodehypo: internal error: {type(exc).__name__}: {exc} (rerun with --verbose "
              "for the traceback)", file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        config, text = load_config(args.config)
        raw = _named(config)
        if args.seed is not None:
            if args.seed < 0:
                raise UsageError(f"--seed: expected an integer >= 0, got {args.seed}")
            raw["study"] = {**raw.get("study", {}), "seed": args.seed}
        if args.workers is not None:
            if args.workers < 1:
                raise UsageError(f"--workers: expected an integer >= 1, got {args.workers}")
            raw["executor"] = {**raw.get("executor", {}), "workers": args.workers}
        directory = Path(args.dir) if args.dir else Path("studies") / config.name
        if args.check:
            Study.check(directory, raw)
            print(f"config ok: {args.config} would create {directory}")
            return EXIT_OK
        return _run_study(Study.create(directory, raw, text))
    if args.command == "resume":
        return _run_study(Study.open(args.dir))
    if args.command == "report":
        return _report(args)
    if args.command == "slurm":
        return _slurm(args)
    if args.command == "plot":
        return _plot(args)
    if args.command == "dashboard":
        return _dashboard(args)
    if getattr(args, "output", None):
        _check_output(args.output)
    storage, _ = open_storage(args.dir, readonly=True)
    try:
        if args.command == "status":
            alive = driver_alive(Path(args.dir))
            print(status_text(storage, alive, read_live(Path(args.dir)) if alive else None))
        elif args.format == "parquet":
            if not args.output:
                raise UsageError("--format parquet: give the file with -o FILE")
            with _writing(args.output):
                try:
                    export_parquet(storage, args.output)
                except RuntimeError as exc:
                    raise ConfigError(str(exc)) from None
        elif args.output:
            with _writing(args.output), open(args.output, "w", newline="", encoding="utf-8") as out:
                export_csv(storage, out)
        else:
            export_csv(storage, sys.stdout)
            sys.stdout.flush()
    finally:
        storage.close()
    return EXIT_OK


def _check_output(path: str) -> None:
    """-o FILE: refused before any work when it cannot be a file (a directory, a missing folder)."""
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"-o: {path} is a directory; give a file name")
    if not target.parent.is_dir():
        raise UsageError(f"-o: cannot write {path}: no directory {target.parent}")


@contextlib.contextmanager
def _writing(path: str):
    """Writing the -o file: what the system refuses (permissions, a full disk) in one line."""
    try:
        yield
    except OSError as exc:
        raise UsageError(f"-o: cannot write {path}: {exc.strerror or exc}") from None


def _named(config) -> dict:
    """The config as read, with the name the file gave it (its stem by default), whatever --dir says."""
    return {**config.raw, "study": {**config.raw.get("study", {}), "name": config.name}}


def _slurm(args: argparse.Namespace) -> int:
    config, text = load_config(args.config)
    directory = Path(args.dir) if args.dir else Path("studies") / config.name
    job = DriverJob(Path(args.config), directory, partition=args.partition, account=args.account, qos=args.qos,
                    time=args.time, cpus=args.cpus, mem=args.mem)
    try:
        script = driver_script(job, config.name)
    except ValueError as exc:  # an option that sbatch would not take safely
        raise UsageError(str(exc)) from None
    if args.slurm_command == "script":
        sys.stdout.write(script)
        return EXIT_OK
    study = Study.create(directory, _named(config), text)
    study.close()
    path = directory / "driver.sbatch"
    path.write_text(script)
    try:
        job_id = submit(path, directory)
    except RuntimeError as exc:
        raise StorageError(str(exc)) from None
    print(f"submitted driver job {job_id} for {directory}; follow it with: autodehypo status {directory}")
    return EXIT_OK


def _plot(args: argparse.Namespace) -> int:
    if args.kind == "energy" and not args.by:
        raise UsageError("--kind energy needs --by PARAM")
    if args.kind == "hypervolume" and args.x == "time":
        raise UsageError("--kind hypervolume: --x evaluations or energy")
    if Path(args.output).suffix.lower() not in (".png", ".svg"):
        raise UsageError(f"-o: the plot file must end in .png or .svg, got {Path(args.output).name!r}")
    _check_output(args.output)
    studies = _load_all(args.dirs)
    if args.kind == "hypervolume" and not all(s.objectives for s in studies):
        raise UsageError("--kind hypervolume: only studies of several objectives (study.objectives) "
                         "have a front")
    if args.kind in ("pareto", "hypervolume") and len({tuple(s.objectives) for s in studies}) > 1:
        raise UsageError("these studies have different objectives; plot them one at a time")
    try:
        fig = plot_kinds.make(args.kind, studies, x=args.x, by=args.by)
    except KeyError as exc:
        raise UsageError(f"--by: no parameter {exc.args[0]!r} in these studies "
                         "(neither searched nor fixed)") from None
    except RuntimeError as exc:
        raise ConfigError(str(exc)) from None
    with _writing(args.output):
        plot_kinds.save(fig, args.output)
    return EXIT_OK


def _load_all(dirs: list[str]):
    from .reports.data import load_study
    return [load_study(d) for d in dirs]


def _dashboard(args: argparse.Namespace) -> int:
    from .reports.dashboard import Dashboard, serve
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port: expected 0 to 65535, got {args.port}")
    if not args.refresh > 0:
        raise UsageError(f"--refresh: expected a number of seconds > 0, got {args.refresh}")
    for directory in args.dirs:  # a missing or damaged study is said now, in one line
        open_storage(directory, readonly=True)[0].close()
    try:
        plot_kinds._pyplot()  # the page's plots
    except RuntimeError as exc:
        raise ConfigError(str(exc)) from None
    try:
        server = serve(Dashboard([Path(d) for d in args.dirs], args.group_by, args.refresh),
                       args.host, args.port)
    except OSError as exc:
        raise UsageError(f"--host/--port: cannot listen on {args.host}:{args.port}: "
                         f"{exc.strerror or exc}") from None
    host, port = server.server_address[:2]

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    # Set, not inherited: a process started in the background by a shell ignores SIGINT, and
    # Python then leaves it ignored (CI's test of Ctrl-C hung on it); SIGTERM stops it alike.
    for stopping in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stopping, stop)
    print(f"autodehypo dashboard: http://{host}:{port}/ (read-only; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


def _report(args: argparse.Namespace) -> int:
    from .reports.html import render_html
    from .reports.tables import group_rows, render, render_front
    if args.output:
        _check_output(args.output)
    studies = _load_all(args.dirs)
    try:
        if args.format == "html":
            text = render_html(studies, args.group_by)
        else:
            text = render(group_rows(studies, args.group_by), args.format, args.group_by or "study")
            if args.format == "text" and len(studies) == 1 and not args.group_by:
                storage, _ = open_storage(args.dirs[0], readonly=True)
                text = report_text(storage) + "\n\n" + text
                storage.close()
            if args.format != "csv":  # CSV stays one table; export marks the front members
                text += "".join("\n" + render_front(s, args.format) for s in studies if s.objectives)
    except KeyError as exc:
        raise UsageError(f"--group-by: no parameter {exc.args[0]!r} in these studies "
                         "(neither searched nor fixed)") from None
    except RuntimeError as exc:
        raise ConfigError(str(exc)) from None
    if args.output:
        with _writing(args.output):
            Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK


def entry_point() -> None:
    sys.exit(main())
