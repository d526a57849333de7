"""`nelm-sim capacity`: the smallest capacity of one resource that meets a 90th-percentile wait target.

Each candidate capacity re-runs the scenario's comparison (every strategy, every replication) with the
scenario's seed, so every candidate sees the same arrivals and patients (common random numbers) and
the same command gives the same answer. The p90 wait of a strategy is the 90th percentile of its served
waits for the resource in the statistics window, replications pooled; the target must hold for every
strategy. The search scans upward (capacity/search.py) and keeps every point: the trade-off curve of
capacity, p90 wait and 5-year overall survival.
"""

from __future__ import annotations

import math
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..config import MAX_RESOURCE_CAPACITY, RESOURCE_NAMES, Scenario, load_scenario
from ..errors import ScenarioError, UserInputError
from .schedule import MONTHS_PER_YEAR
from .search import SearchResult, smallest_capacity

DEFAULT_MAX_CAPACITY = 20
P90 = 0.9
CURVE_COLUMNS = [
    "capacity",
    "strategy",
    "p90_wait_days",
    "mean_wait_days",
    "waits",
    "left_queue",
    "utilisation",
    "utilisation_of_open_time",
    "os_5y",
    "os_5y_lower_95",
    "os_5y_upper_95",
    "progressed_while_waiting_share",
    "treatment_changed_by_waiting_share",
    "meets_target",
]


@dataclass
class CapacityAnswer:
    resource: str
    target_days: float
    search: SearchResult
    curve: pd.DataFrame  # CURVE_COLUMNS

    @property
    def answer(self) -> int | None:
        return self.search.answer


def check_options(scenario: Scenario, path: Path, resource: str, target: float, minimum: int, maximum: int) -> None:
    if resource not in RESOURCE_NAMES:
        raise UserInputError(f"--resource: expected one of {', '.join(RESOURCE_NAMES)}, got {resource!r}")
    configured = scenario.capacity.resources.configured() if scenario.capacity is not None else {}
    if resource not in configured:
        shown = ", ".join(configured) or "none"
        raise ScenarioError(
            path, f"capacity.resources.{resource}", f"a resource configured in this scenario to search its capacity (configured: {shown})"
        )
    if not (math.isfinite(target) and target >= 0):
        raise UserInputError(f"--target-p90-wait: expected a number of days >= 0, got {target}")
    if not 1 <= minimum <= maximum <= MAX_RESOURCE_CAPACITY:
        raise UserInputError(
            f"--min-capacity/--max-capacity: expected 1 <= min <= max <= {MAX_RESOURCE_CAPACITY}, got {minimum} and {maximum}"
        )


def with_capacity(scenario: Scenario, resource: str, capacity: int) -> Scenario:
    data = scenario.model_dump()
    data["capacity"]["resources"][resource]["capacity"] = capacity
    data["variants"] = None
    data["sweep"] = None
    return Scenario.model_validate(data)


def evaluate(scenario: Scenario, path: Path, resource: str, capacity: int, target: float, progress=None) -> tuple[float, pd.DataFrame]:
    """(worst p90 wait over strategies, curve rows) of one candidate capacity."""
    from ..experiments.compare import run_comparison
    from ..experiments.runner import prepare

    comparison = run_comparison(prepare(with_capacity(scenario, resource, capacity), path), progress=progress)
    waits = comparison.capacity.frame("waits")
    resources = comparison.capacity.frame("resources")
    summary = comparison.summary.set_index(["strategy", "metric"])
    start = _window_start(scenario)
    rows = []
    for strategy in comparison.strategies:
        mine = waits[(waits["strategy"] == strategy) & (waits["resource"] == resource) & (waits["requested_month"] >= start)]
        served = mine.loc[mine["outcome"] == "served", "wait_days"].to_numpy(dtype=float)
        mine_resource = resources[(resources["strategy"] == strategy) & (resources["resource"] == resource)]
        used, used_open = mine_resource["utilisation"], mine_resource["utilisation_of_open_time"]
        p90 = float(np.quantile(served, P90)) if len(served) else 0.0

        def metric(name: str, column: str = "estimate") -> float:
            return float(summary.loc[(strategy, name), column]) if (strategy, name) in summary.index else math.nan

        rows.append(
            {
                "capacity": capacity,
                "strategy": strategy,
                "p90_wait_days": p90,
                "mean_wait_days": float(served.mean()) if len(served) else 0.0,
                "waits": len(served),
                "left_queue": int((mine["outcome"] != "served").sum()),
                "utilisation": float(used.mean()) if len(used) else math.nan,
                "utilisation_of_open_time": float(used_open.mean()) if len(used_open) else math.nan,
                "os_5y": metric("os_5y"),
                "os_5y_lower_95": metric("os_5y", "lower_95"),
                "os_5y_upper_95": metric("os_5y", "upper_95"),
                "progressed_while_waiting_share": metric("progressed_while_waiting_share"),
                "treatment_changed_by_waiting_share": metric("treatment_changed_by_waiting_share"),
                "meets_target": p90 <= target,
            }
        )
    frame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    return float(frame["p90_wait_days"].max()), frame


def _window_start(scenario: Scenario) -> float:
    arrivals = scenario.capacity.arrivals if scenario.capacity is not None else None
    return arrivals.warmup_years * MONTHS_PER_YEAR if arrivals is not None else 0.0


def search_capacity(
    scenario: Scenario, path: Path, resource: str, target: float, minimum: int = 1, maximum: int = DEFAULT_MAX_CAPACITY, progress=None
) -> CapacityAnswer:
    check_options(scenario, path, resource, target, minimum, maximum)
    frames: list[pd.DataFrame] = []

    def _evaluate(capacity: int):
        if progress is not None:
            progress(capacity - minimum, maximum - minimum + 1, f"{resource} capacity {capacity}")
        worst, frame = evaluate(scenario, path, resource, capacity, target)
        frames.append(frame)
        return worst, frame

    result = smallest_capacity(_evaluate, target, start=minimum, maximum=maximum)
    return CapacityAnswer(resource, target, result, pd.concat(frames, ignore_index=True))


def curve_figure(answer: CapacityAnswer, path: Path, title: str) -> Path:
    from ..reporting.style import plt, save, strategy_colours

    curve = answer.curve
    strategies = list(dict.fromkeys(curve["strategy"]))
    colours = strategy_colours(strategies)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for strategy in strategies:
        part = curve[curve["strategy"] == strategy]
        left.plot(part["capacity"], part["p90_wait_days"], marker="o", color=colours[strategy], label=strategy)
        right.errorbar(
            part["capacity"],
            100 * part["os_5y"],
            yerr=[100 * (part["os_5y"] - part["os_5y_lower_95"]).fillna(0), 100 * (part["os_5y_upper_95"] - part["os_5y"]).fillna(0)],
            marker="o",
            color=colours[strategy],
            capsize=3,
            label=strategy,
        )
    left.axhline(answer.target_days, color="#c00", ls="--", lw=1, label=f"target {answer.target_days:g} days")
    if answer.answer is not None:
        for axis in (left, right):
            axis.axvline(answer.answer, color="#999", ls=":", lw=1)
    from matplotlib.ticker import MaxNLocator

    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel(f"{answer.resource} capacity")
    left.set_ylabel("90th-percentile wait (days)")
    right.set_xlabel(f"{answer.resource} capacity")
    right.set_ylabel("5-year overall survival (%)")
    left.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)


DEFAULT_OUTPUT_ROOT = Path("outputs")


def capacity_file(
    path: Path | str,
    resource: str,
    target: float,
    minimum: int = 1,
    maximum: int = DEFAULT_MAX_CAPACITY,
    out: Path | None = None,
    seed: int | None = None,
    replications: int | None = None,
    force: bool = False,
    command_line: list[str] | None = None,
    progress=None,
) -> tuple[Path, CapacityAnswer]:
    """Validate, search and write outputs/<name>-capacity-<resource>/ atomically."""
    from ..api import _apply_cli_overrides, _resolved_yaml
    from ..reporting.run_folder import atomic_folder, check_destination, package_versions, write_json

    started = time.perf_counter()
    path = Path(path)
    scenario = _apply_cli_overrides(load_scenario(path), path, seed=seed, replications=replications)
    check_options(scenario, path, resource, target, minimum, maximum)
    from ..experiments.runner import prepare

    prepare(scenario, path)  # every check of the scenario before anything is written or run
    destination = Path(out) if out is not None else DEFAULT_OUTPUT_ROOT / f"{scenario.name}-capacity-{resource}"
    if out is None and Path(os.path.normpath(destination)).parent != Path(os.path.normpath(DEFAULT_OUTPUT_ROOT)):
        raise ScenarioError(path, "name", f"a name that keeps the output folder directly inside {DEFAULT_OUTPUT_ROOT}/", scenario.name)
    check_destination(destination, force)
    answer = search_capacity(scenario, path, resource, target, minimum, maximum, progress)
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        answer.curve.to_csv(staging / "capacity_curve.csv", index=False, float_format="%.10g")
        curve_figure(answer, staging / "figures" / "capacity_curve.png", f"{scenario.name}: {resource} capacity against waits and survival")
        (staging / "scenario.resolved.yaml").write_text(_resolved_yaml(scenario), encoding="utf-8")
        write_json(
            staging / "manifest.json",
            {
                "command": "capacity",
                "scenario": scenario.name,
                "scenario_file": str(path),
                "seed": scenario.seed,
                "replications": scenario.replications,
                "resource": resource,
                "target_p90_wait_days": target,
                "min_capacity": minimum,
                "max_capacity": maximum,
                "answer": answer.answer,
                "versions": package_versions(),
                "python": sys.version.split()[0],
                "platform": platform.platform(),
                "wall_time_seconds": round(time.perf_counter() - started, 3),
                "command_line": command_line or [],
            },
        )
    return destination, answer
