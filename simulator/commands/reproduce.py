"""`nelm-sim reproduce`: the seed review's figures redrawn from simulated patients, with the published
points overlaid, calibration.csv and report.md, written atomically."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..experiments.calibrate import check_arms, check_targets, load_seed_scenarios, load_targets, simulate_all, target_table
from ..experiments.execution import SERIAL, Execution
from ..io import atomic_folder
from ..reporting.seed_figures import SEED_FIGURES, draw_seed_figure
from .output import CALIBRATION_FLOAT_FORMAT, OUTPUT_ROOT, write_csv


def reproduce(
    seed_folder: Path, destination: Path | None, patients: int | None, force: bool, execution: Execution = SERIAL, progress=None
) -> tuple[Path, pd.DataFrame]:
    """Run the seed scenarios, draw the review's figures with published points, and check all targets;
    written to ``destination`` (default outputs/seed-figures/). Returns (the folder, the targets' table)."""
    destination = Path(destination) if destination is not None else OUTPUT_ROOT / "seed-figures"
    data = load_targets()
    seeds = load_seed_scenarios(seed_folder)
    # A target or figure whose scenario or arm is missing from the folder: one line, before anything runs.
    check_targets(data.targets, seeds)
    for figure in SEED_FIGURES:
        check_arms(seeds, figure.scenario, list(figure.arms), f"figure {figure.key}", f"figure {figure.key}")
    results = simulate_all(list(seeds), seeds, {}, patients, execution, progress)
    table = target_table(data.targets, results)
    with atomic_folder(destination, force) as staging:
        for figure in SEED_FIGURES:
            draw_seed_figure(figure, results[figure.scenario].patients, staging / f"{figure.key}.png")
        write_csv(table, staging / "calibration.csv", CALIBRATION_FLOAT_FORMAT)
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
        (staging / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return destination, table
