"""One SQLite file per study: the config, every trial, and the optimizer state per generation.

Only the driver writes; readers (``status``, ``report``, ``export``) open the
file read-only. A finished trial is committed at once, so a resumed study
reuses it; the told values of a generation and the optimizer state after it
are committed in one transaction, so a crash leaves the last whole generation.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

SCHEMA_VERSION = 1
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
    UNIQUE (generation, idx)
);
CREATE TABLE checkpoints (
    generation INTEGER PRIMARY KEY,
    state TEXT NOT NULL,
    evaluations INTEGER NOT NULL,
    driver_elapsed_s REAL NOT NULL,
    created_at REAL NOT NULL
);
"""

# Trial states. PENDING: asked, not started; RUNNING: started by the driver now
# (or when it died); COMPLETE and FAILED are final.
PENDING, RUNNING, COMPLETE, FAILED = "pending", "running", "complete", "failed"

TRIAL_COLUMNS = ("number", "generation", "idx", "params", "unit", "status", "value", "told_value",
                 "metrics", "error", "started_at", "ended_at", "elapsed_s", "cpu_time_s",
                 "peak_rss_mb", "energy_j", "energy_source", "energy_detail", "host", "attempt", "job_id")
_JSON_COLUMNS = {"params", "unit", "metrics", "energy_detail"}


class StorageError(RuntimeError):
    """The study file is missing, from another version, or cannot be written."""


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


def _encode(column: str, value: Any) -> Any:
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
    for column in TRIAL_COLUMNS:
        v = row[column]
        values[column] = json.loads(v) if column in _JSON_COLUMNS and v is not None else v
    if values["metrics"] is None:
        values["metrics"] = {}
    return TrialRecord(**values)


class Storage:
    def __init__(self, path: Path, *, readonly: bool = False):
        self.path = Path(path)
        try:
            if readonly:
                self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=30)
            else:
                self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open {self.path}: {exc}") from None
        self.conn.row_factory = sqlite3.Row

    @classmethod
    def create(cls, directory: Path, config: dict[str, Any], config_text: str,
               space_encoding: int = 1) -> "Storage":
        """Write a new study file; it appears complete or not at all."""
        final = Path(directory) / DB_NAME
        partial = final.with_name(DB_NAME + ".partial")
        partial.unlink(missing_ok=True)
        storage = cls(partial)
        with storage.transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    storage.conn.execute(statement)
            storage._set_meta_many({"schema_version": SCHEMA_VERSION, "config": config,
                                    "config_toml": config_text, "created_at": time.time(),
                                    "state": "created", "space_encoding": space_encoding})
        storage.close()
        # Reopen under the final name: SQLite names its journal after the path it opened.
        partial.rename(final)
        return cls(final)

    @classmethod
    def open(cls, directory: Path, *, readonly: bool = False) -> "Storage":
        path = Path(directory) / DB_NAME
        if not path.is_file():
            raise StorageError(f"{directory}: no study here (no {DB_NAME})")
        storage = cls(path, readonly=readonly)
        try:
            version = storage.meta("schema_version")
        except sqlite3.Error as exc:
            raise StorageError(f"{path}: not a study database ({exc})") from None
        if version != SCHEMA_VERSION:
            raise StorageError(f"{path}: schema version {version}, this autodehypo reads "
                               f"{SCHEMA_VERSION}; use the autodehypo version that wrote it")
        return storage

    def close(self) -> None:
        self.conn.close()

    # -- transactions -------------------------------------------------------
    class _Tx:
        def __init__(self, conn: sqlite3.Connection):
            self.conn = conn

        def __enter__(self):
            self.conn.execute("BEGIN IMMEDIATE")

        def __exit__(self, exc_type, exc, tb):
            self.conn.execute("COMMIT" if exc_type is None else "ROLLBACK")
            return False

    def transaction(self) -> "_Tx":
        return Storage._Tx(self.conn)

    # -- meta ---------------------------------------------------------------
    def meta(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return default if row is None else json.loads(row[0])

    def _set_meta_many(self, items: dict[str, Any]) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                              [(k, json.dumps(v)) for k, v in items.items()])

    def set_meta(self, **items: Any) -> None:
        with self.transaction():
            self._set_meta_many(items)

    # -- trials -------------------------------------------------------------
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

    def update_trials(self, trials: list[TrialRecord], columns: tuple[str, ...] = TRIAL_COLUMNS[5:]) -> None:
        """Write the given columns of several trials in one transaction."""
        with self.transaction():
            for trial in trials:
                self._update(trial, columns)

    def delete_trials(self, numbers: list[int]) -> None:
        with self.transaction():
            self.conn.executemany("DELETE FROM trials WHERE number = ?", [(n,) for n in numbers])

    def trials(self, generation: int | None = None) -> list[TrialRecord]:
        if generation is None:
            rows = self.conn.execute("SELECT * FROM trials ORDER BY number")
        else:
            rows = self.conn.execute("SELECT * FROM trials WHERE generation = ? ORDER BY idx",
                                     (generation,))
        return [_decode_row(r) for r in rows]

    def next_trial_number(self) -> int:
        row = self.conn.execute("SELECT COALESCE(MAX(number) + 1, 0) FROM trials").fetchone()
        return int(row[0])

    # -- checkpoints --------------------------------------------------------
    def commit_generation(self, trials: list[TrialRecord], state: dict[str, Any],
                          evaluations: int, driver_elapsed_s: float) -> None:
        """Store the told values of a generation and the optimizer state after it, atomically."""
        with self.transaction():
            for t in trials:
                self._update(t, ("status", "told_value"))
            self.conn.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                (state["generation"], json.dumps(state), evaluations, driver_elapsed_s, time.time()))
            self._set_meta_many({"driver_elapsed_s": driver_elapsed_s})

    def last_checkpoint(self) -> dict[str, Any] | None:
        row = self.conn.execute(
            "SELECT * FROM checkpoints ORDER BY generation DESC LIMIT 1").fetchone()
        if row is None:
            return None
        return {"state": json.loads(row["state"]), "evaluations": row["evaluations"],
                "driver_elapsed_s": row["driver_elapsed_s"]}

    def iter_checkpoints(self) -> Iterator[dict[str, Any]]:
        for row in self.conn.execute("SELECT * FROM checkpoints ORDER BY generation"):
            yield {"generation": row["generation"], "state": json.loads(row["state"]),
                   "evaluations": row["evaluations"]}
