"""Face validity (ISPOR-SMDM Task Force 7): the model's predictions for standard populations beside
published figures, under both disease structures, for docs/model.md.

    .venv/bin/python scripts/face_validity.py [--patients N] [--values FILE.json]

``--values`` gives calibrated values for the burden model (default: the library's). Prints a Markdown
table; asserts nothing. None of the published figures here is a calibration target, so the table is a
check of plausibility, not of fit.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from simulator.config import Scenario
from simulator.experiments.runner import prepare, run_prepared
from simulator.outcomes.survival import fit_km

NO_SURGERY = {"resectable_lt25": 0.0, "resectable_25to50": 0.0, "resectable_gt50": 0.0}
ALL_RESECTABLE = {"resectable_lt25": 1.0, "resectable_25to50": 1.0, "resectable_gt50": 1.0, "resectable_extrahepatic_factor": 1.0}
SITE = {
    "small_bowel": {"primary_small_bowel": 1.0, "primary_pancreas": 0.0},
    "pancreas": {"primary_small_bowel": 0.0, "primary_pancreas": 1.0},
}
# Both sites in one cohort, so that hormonal function follows the site (cohort.functional_odds_ratio_pancreas)
# around Lesén 2019's functional share of 50% (regional cohort, abstract); a cohort of one site keeps its own share.
SITES_TOGETHER = {"primary_small_bowel": 0.5, "primary_pancreas": 0.5, "functional": 0.5}
GRADE = {"G1": {"grade_g2": 0.0, "grade_g3": 0.0}, "G2": {"grade_g2": 1.0, "grade_g3": 0.0}, "G3": {"grade_g2": 0.0, "grade_g3": 1.0}}


@dataclass(frozen=True)
class Population:
    label: str
    mix: dict
    strategy: str
    published: str  # the published figure and its source, or what is not published
    horizon: float = 240.0
    site: str | None = None  # report only this primary site's patients (of a mixed population twice the size)


POPULATIONS = [
    Population(
        "Small bowel G1, unresectable, best supportive care (the small-bowel half of a two-site cohort, 50% functional overall; 60% of this half)",
        SITES_TOGETHER | GRADE["G1"] | NO_SURGERY,
        "best-supportive-care",
        "no untreated series (every cohort is treated)",
        site="small_bowel",
    ),
    Population(
        "Pancreas G1, unresectable, best supportive care (the pancreatic half of the same cohort; 40% functional)",
        SITES_TOGETHER | GRADE["G1"] | NO_SURGERY,
        "best-supportive-care",
        "no untreated series; HR vs small bowel 1.9 (1.1-3.3), Lesén 2019 (J Cancer 10:6876)",
        site="pancreas",
    ),
    Population("Small bowel G2, unresectable, systemic-first", SITE["small_bowel"] | GRADE["G2"] | NO_SURGERY, "systemic-first", "-"),
    Population("Pancreas G2, unresectable, systemic-first", SITE["pancreas"] | GRADE["G2"] | NO_SURGERY, "systemic-first", "-"),
    Population("G3 NET (mixed sites), unresectable, systemic-first", GRADE["G3"] | NO_SURGERY, "systemic-first", "-"),
    Population(
        "Metastatic G1/G2 GEP-NET, 76% small bowel, guideline",
        {"primary_small_bowel": 0.76, "primary_pancreas": 0.24, "grade_g2": 0.28, "grade_g3": 0.0, "functional": 0.5},
        "guideline",
        "median OS 84 months (7.0 y from diagnosis, 95% CI 6.2 y-NR), Lesén 2019 (J Cancer 10:6876), Swedish register",
    ),
    Population(
        "Resectable, surgery-first",
        ALL_RESECTABLE,
        "surgery-first",
        "surgery + other therapy, unmatched: median 152 months (119-185), Schreckenbach 2019 (Eur J Surg Oncol)",
    ),
    Population(
        "Unresectable, systemic-first",
        NO_SURGERY,
        "systemic-first",
        "non-surgical therapy alone, unmatched: median 63 months (45-81), Schreckenbach 2019",
    ),
]
# The bundled strategies on the default referral cohort (scenarios/baseline.yaml's population).
STRATEGIES = ["surgery-first", "iat-first", "systemic-first", "watch-and-wait", "guideline", "best-supportive-care"]


def run(mix: dict, strategies: list[str], parameters: dict, patients: int, horizon: float) -> pd.DataFrame:
    scenario = Scenario.model_validate(
        {
            "name": "face-validity",
            "seed": 9,
            "replications": 1,
            "cohort": {"size": patients, "mix": mix},
            "horizon_months": horizon,
            "strategies": strategies,
            "parameters": parameters,
        }
    )
    return run_prepared(prepare(scenario, "face-validity.yaml")).patients


_MIXED_RUNS: dict[str, pd.DataFrame] = {}


def population_table(population: Population, parameters: dict, patients: int) -> pd.DataFrame:
    if population.site is None:
        return run(population.mix, [population.strategy], parameters, patients, population.horizon)
    # The rows of one mixed population (one per site) share its run.
    key = json.dumps([population.mix, population.strategy, parameters, patients, population.horizon], sort_keys=True)
    frame = _MIXED_RUNS.get(key)
    if frame is None:
        frame = _MIXED_RUNS[key] = run(population.mix, [population.strategy], parameters, 2 * patients, population.horizon)
    return frame[frame["primary_site"] == population.site]


def summary(frame: pd.DataFrame) -> str:
    kmf = fit_km(frame["os_months"], frame["death"], "os")
    median = float(kmf.median_survival_time_)
    five = float(kmf.survival_function_at_times(60.0).iloc[0])
    text = f"{median:.0f}" if math.isfinite(median) else "not reached"
    return f"{text} ({five:.0%})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--values", type=Path, help="JSON of calibrated burden-model values (default: the library's)")
    args = parser.parse_args()
    burden = {"disease.burden_model": 1, **(json.loads(args.values.read_text()) if args.values else {})}
    models = {"hazard-ratio model": {}, "burden model": burden}
    started = time.perf_counter()
    print("| population | strategy | " + " | ".join(f"{name}: median OS, months (5-y OS)" for name in models) + " | published |")
    print("|---|---|" + "---|" * len(models) + "---|")
    for population in POPULATIONS:
        cells = [summary(population_table(population, parameters, args.patients)) for parameters in models.values()]
        print(f"| {population.label} | {population.strategy} | " + " | ".join(cells) + f" | {population.published} |")
    tables = {name: run({}, STRATEGIES, parameters, args.patients, 240.0) for name, parameters in models.items()}
    for strategy in STRATEGIES:
        cells = [summary(table[table["strategy"] == strategy]) for table in tables.values()]
        print(
            f"| Default referral cohort | {strategy} | " + " | ".join(cells) + " | see docs/calibration.md (the Mayo cohorts are targets) |"
        )
    print(f"\n({args.patients} patients per row, seed 9; {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main()
