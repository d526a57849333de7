"""`nelm-sim reproduce`: the seed review's figures redrawn from simulated patients, with the published
points overlaid, one figure per validation study (validation-<study>.png), calibration.csv,
validation.csv and report.md, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..experiments.calibrate import (
    check_options,
    check_validation_options,
    default_validation_folder,
    load_targets,
    load_validation_targets,
    simulate_all,
    target_table,
)
from ..experiments.execution import SERIAL, Execution
from ..io import atomic_folder, check_destination
from ..reporting.seed_figures import SEED_FIGURES, draw_seed_figure, draw_validation_figure
from .output import CALIBRATION_FLOAT_FORMAT, OUTPUT_ROOT, write_csv


def reproduce(
    seed_folder: Path,
    destination: Path | None,
    patients: int | None,
    force: bool,
    execution: Execution = SERIAL,
    progress=None,
    validation_folder: Path | None = None,
) -> tuple[Path, pd.DataFrame, pd.DataFrame]:
    """Run the seed and validation scenarios, draw the review's figures and one figure per validation study
    with published points, and check all targets (calibration and, apart, validation); written to
    ``destination`` (default outputs/seed-figures/). Returns (the folder, calibration table, validation table)."""
    destination = Path(destination) if destination is not None else OUTPUT_ROOT / "seed-figures"
    data = load_targets()
    seeds = check_options(seed_folder, patients)  # every seed at this cohort size, before anything runs
    validation_folder = validation_folder if validation_folder is not None else default_validation_folder(seed_folder)
    studies = check_validation_options(validation_folder, seeds, patients)
    validation_targets = load_validation_targets().targets
    check_destination(destination, force)
    results = simulate_all(list(seeds), seeds, {}, patients, execution, progress)
    table = target_table(data.targets, results)
    evaluated = list(dict.fromkeys(t.scenario for t in validation_targets))
    validation_results = simulate_all(evaluated, studies, {}, patients, execution, progress)
    validation = target_table(validation_targets, validation_results)
    with atomic_folder(destination, force) as staging:
        for figure in SEED_FIGURES:
            draw_seed_figure(figure, results[figure.scenario].patients, staging / f"{figure.key}.png")
        for study in evaluated:
            draw_validation_figure(
                study,
                [t for t in validation_targets if t.scenario == study],
                validation_results[study].patients,
                studies[study].scenario.horizon_months,
                staging / f"validation-{study}.png",
            )
        write_csv(table, staging / "calibration.csv", CALIBRATION_FLOAT_FORMAT)
        write_csv(validation, staging / "validation.csv", CALIBRATION_FLOAT_FORMAT)
        lines = [
            "# The seed review's figures, reproduced",
            "",
            "Simulated Kaplan-Meier curves of the virtual cohorts and trials in `scenarios/seed/`, with the",
            "published points (open circles) of Mayo et al., J Am Coll Surg 2013, and the studies it cites.",
            "",
        ]
        for figure in SEED_FIGURES:
            lines += [f"## {figure.title}", "", f"![{figure.key}]({figure.key}.png)", ""]
        lines += ["## Targets", "", "| target | published | simulated | tolerance | pass |", "|---|---|---|---|---|"]
        lines += [
            f"| {r.target} | {r.published:g} | {r.simulated:.4g} | {r.tolerance} | {'yes' if r.pass_ else 'NO'} |"
            for r in table.rename(columns={"pass": "pass_"}).itertuples()
        ]
        lines += ["", "## Validation (never fitted; misses reported, docs/calibration.md)", ""]
        for study in evaluated:
            lines += [f"![validation-{study}](validation-{study}.png)", ""]
        lines += ["| target | published | simulated | tolerance | pass |", "|---|---|---|---|---|"]
        lines += [
            f"| {r.target} | {r.published:g} | {r.simulated:.4g} | {r.lower:g}-{r.upper:g} | {'yes' if r.pass_ else 'NO'} |"
            for r in validation.rename(columns={"pass": "pass_"}).itertuples()
        ]
        (staging / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return destination, table, validation
