"""The Monte Carlo spread of `nelm-sim calibrate --check`: every target at the check's seeds and at shifted ones.

`calibrate --check` runs each seed (and validation) scenario once, at the seed and cohort size its file gives,
so each verdict is that of one Monte Carlo draw. This diagnostic re-runs every scenario with its seed moved by
1, 2, ... (nothing else changes) and prints, for each target, the simulated value at the check's own seed, the
mean and standard deviation over all the seeds, that SD as a share of the tolerance's half-width, and the share
of seeds at which the target is inside. It then prints how many targets are inside at each seed, and how many
have their mean inside. docs/calibration.md ("Twenty-first step") reads these figures.

    .venv/bin/python scripts/seed_spread.py [--burden-model] [--validation] [--shifts 8] [--first-shift 0] [--values FILE.json]
        [--workers 2]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.experiments import calibrate as cal
from simulator.experiments.execution import Execution


def shifted(scenarios: dict[str, cal.SeedScenario], shift: int) -> dict[str, cal.SeedScenario]:
    return {
        name: cal.SeedScenario(seed.scenario.model_copy(update={"seed": seed.scenario.seed + shift}), seed.path)
        for name, seed in scenarios.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--burden-model", action="store_true", help="the burden model (disease.burden_model: 1)")
    parser.add_argument("--validation", action="store_true", help="the validation set instead of the calibration targets")
    parser.add_argument("--shifts", type=int, default=8, help="seeds per scenario: the check's own and this many minus one after it")
    parser.add_argument("--first-shift", type=int, default=0, help="start the seeds this far after the files' (held-out seeds for a fit)")
    parser.add_argument("--values", type=Path, help="JSON of parameter values set in every scenario (default: the library's)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    overrides = {"disease.burden_model": 1} if args.burden_model else {}
    if args.values:
        overrides.update(json.loads(args.values.read_text()))
    seeds = cal.load_seed_scenarios(cal.default_seed_folder())
    if args.validation:
        scenarios = cal.load_validation_scenarios(cal.default_validation_folder(cal.default_seed_folder()), seeds)
        targets, path = cal.load_validation_targets().targets, cal.validation_targets_path()
    else:
        scenarios, targets, path = seeds, cal.load_targets().targets, cal.targets_path()
    execution = Execution(workers=args.workers)
    tables = [
        cal.evaluate(targets, shifted(scenarios, shift), overrides, None, execution, path=path).assign(shift=shift)
        for shift in range(args.first_shift, args.first_shift + args.shifts)
    ]
    runs = pd.concat(tables)
    inside_by_seed = runs.groupby("shift")["pass"].sum()
    summary = runs.groupby("target", sort=False).agg(
        published=("published", "first"),
        lower=("lower", "first"),
        upper=("upper", "first"),
        check=("simulated", "first"),
        mean=("simulated", "mean"),
        sd=("simulated", "std"),
        inside=("pass", "mean"),
    )
    summary["sd_over_half_width"] = summary["sd"] / ((summary["upper"] - summary["lower"]) / 2)
    summary["mean_inside"] = (summary["mean"] >= summary["lower"]) & (summary["mean"] <= summary["upper"])
    print(
        "| target | published | tolerance | first seed (shift 0: the check's) | mean | SD | SD / half-width | seeds inside | mean inside |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for target, row in summary.iterrows():
        print(
            f"| {target} | {row.published:g} | {row.lower:.4g}-{row.upper:.4g} | {row.check:.4g} | {row['mean']:.4g} | {row.sd:.3g} "
            f"| {row.sd_over_half_width:.2f} | {row.inside:.2f} | {'yes' if row.mean_inside else '**no**'} |"
        )
    print()
    print(f"inside at each seed (from shift {args.first_shift}): {', '.join(str(int(n)) for n in inside_by_seed)} of {len(summary)}")
    print(f"mean over seeds: {np.mean(inside_by_seed):.2f}; targets whose mean over seeds is inside: {int(summary['mean_inside'].sum())}")


if __name__ == "__main__":
    main()
