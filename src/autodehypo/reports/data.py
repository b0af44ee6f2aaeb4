from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import build_search, search_of
from ..direction import Direction
from ..storage import COMPLETE, FAILED, TrialRecord
from ..study import load_search, open_storage
from .front import Objective, objectives_of


@dataclass
class StudyData:
    """Everything a report needs from one study, read once."""

    directory: Path
    config: dict[str, Any]
    meta: dict[str, Any]
    trials: list[TrialRecord]
    # After each generation (async: window; multi-fidelity: rung): its number, the evaluations
    # told, and the search's own summary of itself then (Search.summary()).
    checkpoints: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return study_name(self.config, self.directory)

    @property
    def direction(self) -> str:
        return study_direction(self.config)

    @property
    def objectives(self) -> list[Objective]:
        """Several objectives as configured; [] for a study of one."""
        return objectives_of(self.config)

    @property
    def value_name(self) -> str:
        """What the objective's value is: the returned key, or what a built-in objective returns
        (with several objectives: the first one, which the trials' value holds)."""
        if self.objectives and self.objectives[0].name != "objective":
            return self.objectives[0].name
        objective = self.config.get("objective", {})
        if objective.get("type") in ("mnist_cnn", "vision"):
            return "validation error"
        return objective.get("key", "objective")

    @property
    def algorithm(self) -> str:
        return study_algorithm(self.config, self.meta["search_defaults"])

    @property
    def wall_time_s(self) -> float:
        return float(self.meta.get("driver_elapsed_s") or 0.0)

    def finished_trials(self) -> list[TrialRecord]:
        return [t for t in self.trials if t.status in (COMPLETE, FAILED)]

    def fixed(self) -> dict[str, Any]:
        return dict(self.config.get("objective", {}).get("fixed", {}))


def study_direction(config: dict[str, Any]) -> str:
    """The direction of the trials' value: the study's, or its first objective's."""
    objectives = objectives_of(config)
    return objectives[0].direction if objectives else config.get("study", {}).get("direction", "minimize")


def study_algorithm(config: dict[str, Any], defaults: int) -> str:
    """The configured algorithm, or the default of the study's version of the defaults
    (``Storage.search_defaults``)."""
    return search_of(config.get("study", {}), defaults)[0]


def search_label(config: dict[str, Any], defaults: int) -> str:
    """The algorithm and its pre-screening, as the report's first line names them."""
    study = config.get("study", {})
    algorithm, options = search_of(study, defaults)
    merged = {**options, **study.get("options", {})}
    prescreen, cost_weight = merged.get("prescreen"), merged.get("cost_weight")
    if "mutation" in merged:  # gde3-shade's defaults differ by version in it alone
        algorithm += f" {merged['mutation']}" + (f" (p {merged['p']:g})" if "p" in merged else "")
    if merged.get("pruning", "crowding") != "crowding":
        algorithm += f" pruned by {merged['pruning']}"
    if not prescreen:
        return algorithm
    label = f"{algorithm}, prescreen {prescreen}"
    if merged.get("redraws"):
        below = merged.get("redraw_below")
        label += f" ({merged['redraws']} redrawn{f' where spread < {below:g}' if below else ''})"
    if merged.get("surrogate", "knn") != "knn":
        label += f" ({merged['surrogate']}{', screened start' if merged.get('screen_start') else ''})"
    if not cost_weight:
        return label
    return f"{label}, cost weight {cost_weight:g}{' cooled' if merged.get('cost_cooling') else ''}"


def study_name(config: dict[str, Any], directory: str | Path) -> str:
    """The configured name; a study made through the API without one is named after its directory."""
    return config.get("study", {}).get("name") or Path(directory).name


def load_study(directory: str | Path) -> StudyData:
    storage, config = open_storage(directory, readonly=True)
    try:
        meta = {k: storage.meta(k) for k in ("state", "driver_elapsed_s", "energy_sources",
                                             "created_at", "config_toml", "environments")}
        meta["search_defaults"] = storage.search_defaults
        checkpoints, search = [], None
        for c in storage.iter_checkpoints():
            summary = c["summary"]
            if summary is None:  # a version-1 file kept the state: the search summarizes it
                search = search or build_search(config)
                summary = load_search(search, c["state"], storage.path).summary()
            checkpoints.append({"generation": c["generation"], "evaluations": c["evaluations"],
                                "summary": summary})
        return StudyData(Path(directory), storage.meta("config"), meta, storage.trials(), checkpoints)
    finally:
        storage.close()


def better(a: float, b: float, direction: str) -> bool:
    return Direction(direction).better(a, b)


def best_so_far(values: list[float | None], direction: str) -> list[float | None]:
    out, best = [], None
    for v in values:
        if v is not None and (best is None or better(v, best, direction)):
            best = v
        out.append(best)
    return out
