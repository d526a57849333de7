"""`nelm-sim capacity`: validate, search the smallest capacity of one resource that meets a p90 wait
target, and write outputs/<name>-capacity-<resource>/ atomically."""

from __future__ import annotations

import time
from pathlib import Path

from ..config import apply_overrides, load_scenario
from ..experiments.capacity_search import DEFAULT_MAX_CAPACITY, CapacityAnswer, check_options, search_capacity
from ..experiments.runner import prepare
from ..io import atomic_folder, check_destination, write_json
from ..reporting.capacity_report import curve_figure
from .output import manifest, output_folder, resolved_yaml, write_csv


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
    started = time.perf_counter()
    path = Path(path)
    scenario = apply_overrides(load_scenario(path), path, seed=seed, replications=replications)
    check_options(scenario, path, resource, target, minimum, maximum)
    prepare(scenario, path)  # every check of the scenario before anything is written or run
    destination = output_folder(out, scenario, path, f"-capacity-{resource}")
    check_destination(destination, force)
    answer = search_capacity(scenario, path, resource, target, minimum, maximum, progress)
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        write_csv(answer.curve, staging / "capacity_curve.csv")
        curve_figure(answer, staging / "figures" / "capacity_curve.png", f"{scenario.name}: {resource} capacity against waits and survival")
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
                min_capacity=minimum,
                max_capacity=maximum,
                answer=answer.answer,
            ),
        )
    return destination, answer
