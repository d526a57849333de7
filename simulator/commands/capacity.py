"""`nelm-sim capacity`: validate, search the smallest capacity (or, with ``vary="sessions"``, number of
weekly sessions) of one resource that meets a p90 wait target, and write outputs/<name>-capacity-<resource>/
(outputs/<name>-capacity-<resource>-sessions/) atomically."""

from __future__ import annotations

import time
from pathlib import Path

from ..config import apply_overrides, load_scenario
from ..experiments.capacity_search import DEFAULT_MAX_CAPACITY, CapacityAnswer, check_options, most_sessions, search_capacity
from ..experiments.runner import prepare
from ..io import atomic_folder, check_destination, write_json
from ..reporting.capacity_report import curve_figure
from .output import manifest, output_folder, resolved_yaml, write_csv


def capacity_file(
    path: Path | str,
    resource: str,
    target: float,
    minimum: int | None = 1,
    maximum: int | None = DEFAULT_MAX_CAPACITY,
    out: Path | None = None,
    seed: int | None = None,
    replications: int | None = None,
    force: bool = False,
    command_line: list[str] | None = None,
    progress=None,
    vary: str = "capacity",
) -> tuple[Path, CapacityAnswer]:
    """``vary="sessions"``: ``minimum`` and ``maximum`` are sessions a week, ``None`` for 1 and the most the
    resource's schedule allows (experiments.capacity_search.most_sessions)."""
    started = time.perf_counter()
    path = Path(path)
    scenario = apply_overrides(load_scenario(path), path, seed=seed, replications=replications)
    if vary == "sessions":
        schedule = scenario.capacity.resources.configured().get(resource) if scenario.capacity is not None else None
        if maximum is None and schedule is not None and schedule.schedule is not None:
            maximum = most_sessions(schedule.schedule)
        if maximum is None:  # no such resource or no schedule: check_options says which
            maximum = 1
    elif maximum is None:
        maximum = DEFAULT_MAX_CAPACITY
    minimum = 1 if minimum is None else minimum
    check_options(scenario, path, resource, target, minimum, maximum, vary)
    prepare(scenario, path)  # every check of the scenario before anything is written or run
    suffix = f"-capacity-{resource}" + ("-sessions" if vary == "sessions" else "")
    destination = output_folder(out, scenario, path, suffix)
    check_destination(destination, force)
    answer = search_capacity(scenario, path, resource, target, minimum, maximum, progress, vary)
    varied = "capacity" if vary == "capacity" else "sessions a week"
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        write_csv(answer.curve, staging / "capacity_curve.csv")
        curve_figure(answer, staging / "figures" / "capacity_curve.png", f"{scenario.name}: {resource} {varied} against waits and survival")
        (staging / "scenario.resolved.yaml").write_text(resolved_yaml(scenario), encoding="utf-8")
        write_json(
            staging / "manifest.json",
            manifest(
                scenario,
                path,
                time.perf_counter() - started,
                command_line or [],
                command="capacity",
                replications=scenario.replications,
                resource=resource,
                target_p90_wait_days=target,
                **(
                    {"min_capacity": minimum, "max_capacity": maximum}
                    if vary == "capacity"
                    else {"vary": vary, "min_sessions": minimum, "max_sessions": maximum}
                ),
                answer=answer.answer,
                **({} if vary == "capacity" or answer.answer is None else {"answer_schedule": answer_schedule(answer)}),
            ),
        )
    return destination, answer


def answer_schedule(answer: CapacityAnswer) -> str:
    """The schedule of the sessions search's answer, as its curve records it."""
    rows = answer.curve[answer.curve["sessions_per_week"] == answer.answer]
    return str(rows["schedule"].iloc[0])
