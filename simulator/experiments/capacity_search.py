"""The capacity search of `nelm-sim capacity`: the smallest capacity of one resource that meets a
90th-percentile wait target.

Each candidate capacity re-runs the scenario's comparison (every strategy, every replication) with the
scenario's seed, so every candidate sees the same arrivals and patients (common random numbers) and
the same command gives the same answer. The p90 wait of a strategy is the 90th percentile of its served
waits for the resource in the statistics window, replications pooled; the target must hold for every
strategy. ``smallest_capacity`` scans upward: ``evaluate(capacity)`` returns (p90 wait, anything else to
report); the scan stops at the first capacity whose p90 wait is within the target (waits do not grow
with capacity when the random numbers are common, so the first hit is the smallest), or at ``maximum``.
Every evaluated point is kept: the trade-off curve of capacity, p90 wait and 5-year overall survival.

``vary="sessions"`` (``nelm-sim capacity --vary sessions``) scans the number of weekly sessions of a
scheduled resource instead, its units fixed: ``sessions_schedule`` builds the schedule of k sessions a
week (the first k sessions as listed when k is at most the schedule's count; beyond it, copies of the
first session, same start hour and length, on the days free for it, Monday to Sunday in order).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..capacity.schedule import DAY_NAMES, HOURS_PER_DAY, WeeklySchedule
from ..config import (
    MAX_HORIZON_MONTHS,
    MAX_RESOURCE_CAPACITY,
    MAX_SCENARIO_RUNS,
    MAX_SCHEDULE_SESSIONS,
    RESOURCE_NAMES,
    Scenario,
    SessionConfig,
)
from ..errors import ScenarioError, UserInputError
from ..pathways.base import DAYS_PER_MONTH
from .compare import run_comparison
from .runner import prepare

DEFAULT_MAX_CAPACITY = 20
# Each capacity tried is a whole strategy comparison, so their number is bounded like a scenario
# analysis's runs (config.MAX_SCENARIO_RUNS): 200 comparisons of a small cohort take minutes, not hours.
MAX_CAPACITY_STEPS = MAX_SCENARIO_RUNS
# No wait can be longer than the longest horizon a scenario may have: a larger target means "any wait".
MAX_TARGET_WAIT_DAYS = MAX_HORIZON_MONTHS * DAYS_PER_MONTH
CURVE_COLUMNS = [
    "capacity",
    "strategy",
    "p90_wait_days",
    "mean_wait_days",
    "waits",
    "left_queue",
    "utilisation",
    "overrun_hours_per_year",
    "os_5y",
    "os_5y_lower_95",
    "os_5y_upper_95",
    "progressed_while_waiting_share",
    "treatment_changed_by_waiting_share",
    "meets_target",
]
# What the search varies: the parallel units (the default) or the weekly sessions of a scheduled resource.
VARY_CHOICES = ("capacity", "sessions")
# The sessions search's curve: the varied quantity and the open time it gives first, then the unit
# search's columns (``capacity`` is the resource's fixed number of units).
SESSION_COLUMNS = ["sessions_per_week", "open_hours_per_week", "schedule", *CURVE_COLUMNS]


@dataclass
class SearchResult:
    answer: int | None  # None: no capacity up to ``maximum`` meets the target
    target: float
    curve: list[tuple[int, float, Any]] = field(default_factory=list)  # (capacity, p90 wait, extra)


def smallest_capacity(
    evaluate: Callable[[int], tuple[float, Any]], target: float, start: int = 1, maximum: int = 50, beyond: int = 1
) -> SearchResult:
    """Scan capacities start, start + 1, ... up to ``maximum``; also evaluate ``beyond`` more points after the
    answer so that the curve shows what one more unit buys."""
    result = SearchResult(None, target)
    extra_left = beyond
    for capacity in range(start, maximum + 1):
        wait, extra = evaluate(capacity)
        result.curve.append((capacity, wait, extra))
        if result.answer is None and not math.isnan(wait) and wait <= target:
            result.answer = capacity
        elif result.answer is not None:
            extra_left -= 1
        if result.answer is not None and extra_left <= 0:
            break
    return result


@dataclass
class CapacityAnswer:
    resource: str
    target_days: float
    search: SearchResult
    curve: pd.DataFrame  # CURVE_COLUMNS (vary="capacity") or SESSION_COLUMNS (vary="sessions")
    vary: str = "capacity"

    @property
    def answer(self) -> int | None:
        return self.search.answer

    @property
    def varied_column(self) -> str:
        """The curve's column of the varied quantity."""
        return "capacity" if self.vary == "capacity" else "sessions_per_week"


def session_text(session: SessionConfig) -> str:
    """``tue 08:00 for 4 h``: one weekly session as the search prints and records it."""
    hour = int(session.start)
    minute = round((session.start - hour) * 60)
    return f"{session.day} {hour:02d}:{minute:02d} for {session.hours:g} h"


def week_open_hours(sessions: list[SessionConfig]) -> float:
    """Open hours a week of a schedule (overlapping sessions count once)."""
    schedule = WeeklySchedule.from_sessions([(DAY_NAMES.index(s.day), s.start, s.hours) for s in sessions])
    return round(schedule.open_share() * len(DAY_NAMES) * HOURS_PER_DAY, 9)  # rounded: hours -> months -> hours


def added_sessions(schedule: list[SessionConfig]) -> list[SessionConfig]:
    """The sessions the search may add, in the order it adds them: a copy of the first session (same start
    hour and length) on each day, Monday to Sunday, on which no session of ``schedule`` starts and where the
    copy adds its whole length of open time (it overlaps no session, also none running past midnight)."""
    first = schedule[0]
    taken = {s.day for s in schedule}
    chosen = list(schedule)
    found: list[SessionConfig] = []
    for day in DAY_NAMES:
        if day in taken:
            continue
        copy = SessionConfig.model_validate({"day": day, "start": first.start, "hours": first.hours})
        if math.isclose(week_open_hours([*chosen, copy]), week_open_hours(chosen) + first.hours, abs_tol=1e-9):
            chosen.append(copy)
            found.append(copy)
    return found


def most_sessions(schedule: list[SessionConfig]) -> int:
    """The largest number of weekly sessions the sessions search can build from ``schedule``."""
    return min(MAX_SCHEDULE_SESSIONS, len(schedule) + len(added_sessions(schedule)))


def sessions_schedule(schedule: list[SessionConfig], sessions: int) -> list[SessionConfig]:
    """The schedule of ``sessions`` sessions a week: the first ``sessions`` of ``schedule`` as listed, or all
    of them and then the copies of ``added_sessions`` in order."""
    if sessions <= len(schedule):
        return list(schedule[:sessions])
    return [*schedule, *added_sessions(schedule)[: sessions - len(schedule)]]


def check_options(scenario: Scenario, path: Path, resource: str, target: float, minimum: int, maximum: int, vary: str = "capacity") -> None:
    """Every option of the search, before any simulation. With ``vary="sessions"``, ``minimum`` and ``maximum``
    are sessions a week (--min-sessions/--max-sessions)."""
    if vary not in VARY_CHOICES:
        raise UserInputError(f"--vary: expected one of {', '.join(VARY_CHOICES)}, got {vary!r}")
    if resource not in RESOURCE_NAMES:
        raise UserInputError(f"--resource: expected one of {', '.join(RESOURCE_NAMES)}, got {resource!r}")
    configured = scenario.capacity.resources.configured() if scenario.capacity is not None else {}
    if resource not in configured:
        shown = ", ".join(configured) or "none"
        raise ScenarioError(
            path, f"capacity.resources.{resource}", f"a resource configured in this scenario to search its capacity (configured: {shown})"
        )
    if not (math.isfinite(target) and 0 <= target <= MAX_TARGET_WAIT_DAYS):
        raise UserInputError(f"--target-p90-wait: expected a number of days from 0 to {MAX_TARGET_WAIT_DAYS:g}, got {target}")
    if vary == "sessions":
        check_sessions(configured[resource].schedule, resource, minimum, maximum)
        return
    if not 1 <= minimum <= maximum <= MAX_RESOURCE_CAPACITY:
        raise UserInputError(
            f"--min-capacity/--max-capacity: expected 1 <= min <= max <= {MAX_RESOURCE_CAPACITY}, got {minimum} and {maximum}"
        )
    if maximum - minimum + 1 > MAX_CAPACITY_STEPS:
        raise UserInputError(
            f"--min-capacity/--max-capacity: expected at most {MAX_CAPACITY_STEPS} capacities to try (each is a whole comparison),"
            f" got {maximum - minimum + 1} ({minimum} to {maximum})"
        )


def check_sessions(schedule: list[SessionConfig] | None, resource: str, minimum: int, maximum: int) -> None:
    if schedule is None:
        raise UserInputError(
            f"--vary sessions: expected a resource with a schedule (capacity.resources.{resource}.schedule), but {resource}"
            " has none: it is open all the time; vary its capacity instead"
        )
    most = most_sessions(schedule)
    if not 1 <= minimum <= maximum:
        raise UserInputError(f"--min-sessions/--max-sessions: expected 1 <= min <= max, got {minimum} and {maximum}")
    if maximum > most:
        raise UserInputError(
            f"--max-sessions: expected at most {most} sessions a week for {resource} (its {len(schedule)} scheduled, then a copy of"
            f" its first session, {session_text(schedule[0])}, on each day free for it; at most {MAX_SCHEDULE_SESSIONS}), got {maximum}"
        )
    if maximum - minimum + 1 > MAX_CAPACITY_STEPS:  # never with today's bounds (at most 50 sessions); kept for safety
        raise UserInputError(f"--min-sessions/--max-sessions: expected at most {MAX_CAPACITY_STEPS} session counts to try")


def with_sessions(scenario: Scenario, resource: str, sessions: int) -> Scenario:
    data = scenario.model_dump()
    schedule = [SessionConfig.model_validate(s) for s in data["capacity"]["resources"][resource]["schedule"]]
    data["capacity"]["resources"][resource]["schedule"] = [s.model_dump() for s in sessions_schedule(schedule, sessions)]
    data["variants"] = None
    data["sweep"] = None
    return Scenario.model_validate(data)


def with_capacity(scenario: Scenario, resource: str, capacity: int) -> Scenario:
    data = scenario.model_dump()
    data["capacity"]["resources"][resource]["capacity"] = capacity
    data["variants"] = None
    data["sweep"] = None
    return Scenario.model_validate(data)


def evaluate(scenario: Scenario, path: Path, resource: str, capacity: int, target: float, progress=None) -> tuple[float, pd.DataFrame]:
    """(worst p90 wait over strategies, curve rows) of one candidate capacity."""
    return evaluate_scenario(with_capacity(scenario, resource, capacity), path, resource, target, progress)


def evaluate_sessions(
    scenario: Scenario, path: Path, resource: str, sessions: int, target: float, progress=None
) -> tuple[float, pd.DataFrame]:
    """(worst p90 wait over strategies, curve rows with SESSION_COLUMNS) of ``sessions`` sessions a week."""
    candidate = with_sessions(scenario, resource, sessions)
    schedule = candidate.capacity.resources.configured()[resource].schedule if candidate.capacity is not None else None
    assert schedule is not None  # check_sessions refused a resource without one
    worst, frame = evaluate_scenario(candidate, path, resource, target, progress)
    frame.insert(0, "schedule", "; ".join(session_text(s) for s in schedule))
    frame.insert(0, "open_hours_per_week", week_open_hours(schedule))
    frame.insert(0, "sessions_per_week", sessions)
    return worst, frame[SESSION_COLUMNS]


def evaluate_scenario(scenario: Scenario, path: Path, resource: str, target: float, progress=None) -> tuple[float, pd.DataFrame]:
    """(worst p90 wait over strategies, curve rows) of ``scenario`` as it stands."""
    capacity = scenario.capacity.resources.configured()[resource].capacity if scenario.capacity is not None else 0
    comparison = run_comparison(prepare(scenario, path), progress=progress)
    resources = comparison.capacity.frame("resources")
    summary = comparison.summary.set_index(["strategy", "metric"])
    rows = []
    for strategy in comparison.strategies:
        # The waits of the statistics window, per replication, then their mean over replications: the
        # figures `compare` and `scenarios` show for the same set-up (wait_p90_days_<resource>).
        mine_resource = resources[(resources["strategy"] == strategy) & (resources["resource"] == resource)]
        used, overrun = mine_resource["utilisation"], mine_resource["overrun_hours_per_year"]

        def metric(name: str, column: str = "estimate") -> float:
            return float(summary.loc[(strategy, name), column]) if (strategy, name) in summary.index else math.nan

        p90 = metric(f"wait_p90_days_{resource}")
        p90 = 0.0 if math.isnan(p90) else p90  # no one waited for it: no wait
        mean_wait = metric(f"wait_mean_days_{resource}")
        rows.append(
            {
                "capacity": capacity,
                "strategy": strategy,
                "p90_wait_days": p90,
                "mean_wait_days": 0.0 if math.isnan(mean_wait) else mean_wait,
                "waits": int(mine_resource["waits"].sum()),
                "left_queue": int(mine_resource["left_queue"].sum()),
                "utilisation": float(used.mean()) if len(used) else math.nan,
                "overrun_hours_per_year": float(overrun.mean()) if len(overrun) else math.nan,
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


def search_capacity(
    scenario: Scenario,
    path: Path,
    resource: str,
    target: float,
    minimum: int = 1,
    maximum: int = DEFAULT_MAX_CAPACITY,
    progress=None,
    vary: str = "capacity",
) -> CapacityAnswer:
    """The smallest capacity (``vary="capacity"``) or number of weekly sessions (``vary="sessions"``) of
    ``resource`` from ``minimum`` to ``maximum`` whose p90 wait meets ``target`` for every strategy."""
    check_options(scenario, path, resource, target, minimum, maximum, vary)
    frames: list[pd.DataFrame] = []
    one = evaluate if vary == "capacity" else evaluate_sessions
    label = "capacity" if vary == "capacity" else "sessions a week"

    def _evaluate(value: int):
        if progress is not None:
            progress(value - minimum, maximum - minimum + 1, f"{resource} {label} {value}")
        worst, frame = one(scenario, path, resource, value, target)
        frames.append(frame)
        return worst, frame

    result = smallest_capacity(_evaluate, target, start=minimum, maximum=maximum)
    return CapacityAnswer(resource, target, result, pd.concat(frames, ignore_index=True), vary)
