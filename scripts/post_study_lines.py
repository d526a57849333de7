"""How much the virtual pNET trials' overall survival depends on the treatments given after the trial.

RADIANT-3 and the sunitinib trial are simulated with best supportive care after the crossover line, because
the sources read do not itemise the later lines (seed scenario headers). This diagnostic adds sets of later
lines, each an assumption, after every arm's randomised and crossover lines and prints each arm's median
overall survival, so that docs/calibration.md ("Twentieth step") can say what the missing figures would have
to be. It changes nothing in the library or the scenarios.

    .venv/bin/python scripts/post_study_lines.py [--hazard-ratio-model]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse

from simulator.config import Scenario
from simulator.experiments import calibrate as cal

# Later lines, in the order given, each with the share of an arm that receives it (assumptions: no source
# read gives them for these trials). "promid-like" copies the shape of PROMID's reported post-study
# treatment (promid.yaml: PRRT, chemoembolisation, chemotherapy); "broad" adds a targeted drug.
LATER_LINES: dict[str, list[dict]] = {
    "none (the seed scenarios)": [],
    "chemotherapy 30%": [{"treatment": "captem", "max_uses": 1, "share": 0.3}],
    "promid-like": [
        {"treatment": "prrt", "max_uses": 1, "share": 0.38},
        {"treatment": "tace", "max_uses": 1, "share": 0.2},
        {"treatment": "captem", "max_uses": 1, "share": 0.1},
    ],
    "broad": [
        {"treatment": "sunitinib", "max_uses": 1, "share": 0.2},
        {"treatment": "captem", "max_uses": 1, "share": 0.4},
        {"treatment": "prrt", "max_uses": 1, "share": 0.2},
        {"treatment": "tace", "max_uses": 1, "share": 0.2},
    ],
}
TRIALS = {"radiant3": ("everolimus", "placebo"), "sunitinib-pnet": ("sunitinib", "placebo")}


def with_later_lines(seed: cal.SeedScenario, lines: list[dict]) -> cal.SeedScenario:
    """The seed scenario with ``lines`` inserted before each arm's closing best supportive care; a trial's own
    drug is not offered again (it is the randomised or crossover line)."""
    data = seed.scenario.model_dump(mode="json", exclude_none=True)
    for strategy in data["strategies"]:
        own = {rule["treatment"] for rule in strategy["rules"]}
        closing = [rule for rule in strategy["rules"] if rule["treatment"] == "best_supportive_care"]
        kept = [rule for rule in strategy["rules"] if rule["treatment"] != "best_supportive_care"]
        strategy["rules"] = kept + [line for line in lines if line["treatment"] not in own] + closing
    return cal.SeedScenario(Scenario.model_validate(data), seed.path)


def without_crossover(seed: cal.SeedScenario, control: str) -> cal.SeedScenario:
    """The seed scenario whose control arm loses its crossover line (the rules after its first line that
    give a drug of the other arms)."""
    data = seed.scenario.model_dump(mode="json", exclude_none=True)
    drugs = {rule["treatment"] for strategy in data["strategies"] if strategy["name"] != control for rule in strategy["rules"]}
    for strategy in data["strategies"]:
        if strategy["name"] == control:
            strategy["rules"] = [
                rule for rule in strategy["rules"] if rule["treatment"] == "best_supportive_care" or rule["treatment"] not in drugs
            ]
    return cal.SeedScenario(Scenario.model_validate(data), seed.path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hazard-ratio-model", action="store_true", help="the default model instead of the burden model")
    args = parser.parse_args()
    overrides = {} if args.hazard_ratio_model else {"disease.burden_model": 1}
    seeds = cal.load_seed_scenarios(cal.default_seed_folder())
    targets = {(t.scenario, t.arm): t for t in cal.load_targets().targets if t.endpoint == "os" and t.metric == "median"}
    print("| later lines | " + " | ".join(f"{trial} {arm}" for trial, arms in TRIALS.items() for arm in arms) + " |")
    print("|---" * (1 + sum(len(arms) for arms in TRIALS.values())) + "|")
    bands = [targets[(trial, arm)] for trial, arms in TRIALS.items() for arm in arms]
    print("| published (band) | " + " | ".join(f"{t.published:g} ({t.bounds()[0]:.1f}-{t.bounds()[1]:.1f})" for t in bands) + " |")
    for label, lines in LATER_LINES.items():
        cells = []
        for trial, arms in TRIALS.items():
            result = cal.simulate(with_later_lines(seeds[trial], lines), overrides, None)
            cells += [f"{cal.measure(targets[(trial, arm)], result):.1f}" for arm in arms]
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    for trial, (active, control) in TRIALS.items():
        result = cal.simulate(without_crossover(seeds[trial], control), overrides, None)
        medians = {arm: cal.measure(targets[(trial, arm)], result) for arm in (active, control)}
        print(f"{trial}, no crossover (no later lines): {active} {medians[active]:.1f}, {control} {medians[control]:.1f}")


if __name__ == "__main__":
    main()
