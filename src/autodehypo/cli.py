"""The ``autodehypo`` command.

Exit codes: 0 done, 2 bad config or arguments, 3 study file or lock problem,
130 interrupted (resume with ``autodehypo resume DIR``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from . import __version__
from .config import ConfigError, load_config
from .reports import export_csv, format_duration, format_energy, format_value, report_text, status_text
from .storage import Storage, StorageError
from .study import Interrupted, Progress, Study, best_trial, driver_alive

EXIT_OK, EXIT_USAGE, EXIT_STORAGE, EXIT_INTERRUPTED = 0, 2, 3, 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, not usage + error
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="autodehypo",
                     description="Energy-aware hyperparameter optimization with Differential Evolution.")
    parser.add_argument("--version", action="version", version=f"autodehypo {__version__}")
    parser.add_argument("--verbose", action="store_true", help="show tracebacks of internal errors")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="start a study from a TOML config")
    run.add_argument("config", help="TOML config file")
    run.add_argument("--dir", help="study directory (default: studies/<study name>)")
    run.add_argument("--workers", type=int, help="trials run at once (default: number of cores)")
    run.add_argument("--seed", type=int, help="override study.seed")

    resume = sub.add_parser("resume", help="continue a study from its last checkpoint")
    resume.add_argument("dir", help="study directory")

    status = sub.add_parser("status", help="generation, evaluations, best so far, energy so far")
    status.add_argument("dir", help="study directory")

    report = sub.add_parser("report", help="best value and params, elapsed time, energy, trials")
    report.add_argument("dir", help="study directory")

    export = sub.add_parser("export", help="every trial as one row")
    export.add_argument("dir", help="study directory")
    export.add_argument("--format", choices=["csv"], default="csv")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    return parser


class ProgressView:
    """One redrawn line on a terminal; a log line per generation otherwise."""

    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self._last_generation: int | None = None

    def __call__(self, p: Progress) -> None:
        budget = p.config.budget
        of = f"/{budget.evaluations}" if budget.evaluations is not None else ""
        line = (f"gen {p.generation}  evals {p.evaluations}{of}  running {p.running}  "
                f"failed {p.failed}  best {format_value(p.best_value)}  "
                f"energy {format_energy(p.energy_j)} ({'+'.join(p.energy_sources) or '-'})  "
                f"{format_duration(p.elapsed_s)}")
        if self.tty:
            end = "\n" if p.finished else ""
            self.stream.write("\r\033[K" + line + end)
            self.stream.flush()
        elif p.finished or p.generation != self._last_generation:
            self._last_generation = p.generation
            print(line, file=self.stream, flush=True)


def _summary(study: Study, p: Progress) -> str:
    best = best_trial(study.storage.trials(), study.config.direction)
    lines = [f"study:   {study.directory}"]
    if best is None:
        lines.append("best:    no trial completed")
    else:
        lines.append(f"best:    {format_value(best.value)} (trial {best.number})")
        lines.append("params:  " + ", ".join(f"{k}={v!r}" for k, v in best.params.items()))
    lines.append(f"elapsed: {format_duration(p.elapsed_s)}")
    energy = study.config.energy
    sources = ", ".join(p.energy_sources) or "none"
    note = (f"; estimate = CPU time x {energy.watts_per_core:g} W per core"
            if "estimate" in p.energy_sources else "")
    lines.append(f"energy:  {format_energy(p.energy_j)} (source: {sources}{note})")
    lines.append(f"trials:  {p.evaluations} run, {p.failed} failed")
    return "\n".join(lines)


def _run_study(study: Study) -> int:
    try:
        progress = study.run(ProgressView())
        print(_summary(study, progress))
    except Interrupted as exc:
        print(f"\nautodehypo: stopped by {exc}; continue with: autodehypo resume {study.directory}",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        study.close()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
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
        raw = dict(config.raw)
        if args.seed is not None:
            if args.seed < 0:
                raise ConfigError(f"--seed: expected an integer >= 0, got {args.seed}")
            raw["study"] = {**raw.get("study", {}), "seed": args.seed}
        if args.workers is not None:
            if args.workers < 1:
                raise ConfigError(f"--workers: expected an integer >= 1, got {args.workers}")
            raw["executor"] = {**raw.get("executor", {}), "workers": args.workers}
        directory = Path(args.dir) if args.dir else Path("studies") / config.name
        return _run_study(Study.create(directory, raw, text))
    if args.command == "resume":
        return _run_study(Study.open(args.dir))
    storage = Storage.open(Path(args.dir), readonly=True)
    try:
        if args.command == "status":
            print(status_text(storage, driver_alive(Path(args.dir))))
        elif args.command == "report":
            print(report_text(storage))
        elif args.command == "export":
            if args.output:
                with open(args.output, "w", newline="", encoding="utf-8") as out:
                    export_csv(storage, out)
            else:
                export_csv(storage, sys.stdout)
                sys.stdout.flush()
    finally:
        storage.close()
    return EXIT_OK


def entry_point() -> None:
    sys.exit(main())
