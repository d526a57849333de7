"""Calibration targets, tolerance rules, and the published-figure check (slow: CI runs it)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.experiments.calibrate import (
    Target,
    _endpoint,
    check,
    check_validation,
    group_hazard_ratio,
    load_seed_scenarios,
    load_targets,
)
from simulator.params.parameter_set import load_library

from .conftest import ROOT

SEED_DIR = ROOT / "scenarios" / "seed"


def test_targets_and_blocks_refer_to_real_scenarios_and_parameters():
    data = load_targets()
    seeds = load_seed_scenarios(SEED_DIR)
    library = load_library()
    for target in data.targets:
        assert target.scenario in seeds, target.id
        arms = {s.name for s in seeds[target.scenario].scenario.strategies}
        assert target.arm in arms and (target.control is None or target.control in arms), target.id
        low, high, _ = target.bounds()
        assert low <= target.published <= high, target.id
    for block in data.blocks:
        for parameter in block.parameters:
            entry, _ = library[parameter.name]
            value = entry.value if parameter.field == "value" else entry.params[parameter.field]
            assert parameter.bounds[0] <= value <= parameter.bounds[1], (parameter.name, value)


def _target(**fields) -> Target:
    base = {"id": "t", "population": "p", "scenario": "s", "arm": "a", "source": "x"}
    return Target(**{**base, **fields})


def test_tolerance_rules_follow_the_issue():
    assert _target(metric="median", published=100.0).bounds()[:2] == pytest.approx((95.0, 105.0))
    assert _target(metric="survival_at", months=60, published=0.74).bounds()[:2] == pytest.approx((0.71, 0.77))
    # HR: inside the CI and within 0.05: the tighter of the two on each side.
    assert _target(metric="hazard_ratio", published=0.34, ci=(0.20, 0.59)).bounds()[:2] == pytest.approx((0.29, 0.39))
    assert _target(metric="hazard_ratio", published=0.35, ci=(0.27, 0.45)).bounds()[:2] == pytest.approx((0.30, 0.40))
    assert _target(metric="hazard_ratio", published=0.30, ci=(0.28, 0.60)).bounds()[:2] == pytest.approx((0.28, 0.35))
    assert _target(metric="rate", published=0.175, range=(0.15, 0.20)).bounds()[:2] == (0.15, 0.20)


def test_a_hazard_ratio_between_groups_is_adjusted_for_the_traits_named_and_leaves_other_values_out():
    """Exponential deaths with a pancreatic ratio of 2 and a burden ratio of 3, pancreatic patients more often
    with high burden: adjusted, the estimate is 2 within three standard errors; unadjusted it is confounded."""
    rng = np.random.default_rng(16)
    n = 6000
    site = rng.choice(["pancreas", "small_bowel", "other"], n)
    high = rng.random(n) < np.where(site == "pancreas", 0.7, 0.2)
    rate = 0.02 * np.where(site == "pancreas", 2.0, 1.0) * np.where(high, 3.0, 1.0) * np.where(site == "other", 5.0, 1.0)
    death_time = rng.exponential(1.0 / rate)
    frame = pd.DataFrame(
        {
            "primary_site": site,
            "burden": np.where(high, "gt50", "lt25"),
            "os_months": np.minimum(death_time, 120.0),
            "death": death_time < 120.0,
        }
    )
    fields = {"metric": "hazard_ratio", "published": 2.0, "range": (1.0, 4.0), "by": "primary_site", "group": "pancreas"}
    adjusted = group_hazard_ratio(frame, _target(**fields, reference="small_bowel", adjusted_for=("burden",)))
    crude = group_hazard_ratio(frame, _target(**fields, reference="small_bowel"))
    kept = frame[frame["primary_site"] != "other"]
    deaths = kept.groupby("primary_site")["death"].sum()
    se = math.sqrt(1 / deaths["pancreas"] + 1 / deaths["small_bowel"])
    assert abs(math.log(adjusted) - math.log(2.0)) < 3 * se, (adjusted, se)
    assert math.log(crude) - math.log(adjusted) > 3 * se, (crude, adjusted)


def test_a_group_hazard_ratio_names_patient_traits_and_all_three_of_its_fields():
    with pytest.raises(ValueError, match="patient traits"):
        _target(metric="hazard_ratio", published=1.9, by="colour", group="a", reference="b")
    with pytest.raises(ValueError, match="all three"):
        _target(metric="hazard_ratio", published=1.9, by="primary_site", group="pancreas")
    with pytest.raises(ValueError, match="only with metric hazard_ratio"):
        _target(metric="median", published=1.9, by="primary_site", group="pancreas", reference="small_bowel")


def test_overall_survival_from_the_second_line_counts_from_first_progression_among_those_randomised():
    frame = pd.DataFrame(
        {"os_months": [30.0, 50.0, 12.0], "pfs1_months": [10.0, 20.0, 12.0], "pfs2_months": [5.0, 8.0, np.nan], "death": [1, 0, 1]}
    )
    durations, events = _endpoint(frame, "os_from_second_line")
    assert durations.tolist() == [20.0, 30.0] and events.tolist() == [1, 0]


# Targets the calibrated model (the default, hazard-ratio model) still misses: issue 16 stays open while this
# is not empty. Each is listed so that the miss is visible and deliberate; the test fails if another target
# misses, and also if one of these starts to pass, so that the list never hides anything. The 27 targets of
# issue 4 all pass; the misses are issue 16's targets (scope burden-model), which the hazard-ratio model was
# never fitted to and which the disease model v2 is built for (docs/calibration.md, "Seventeenth step").
_TRIAL_OS = "the hazard-ratio model's trial OS is 20-42% short: death hazard multiplied per progression and an unresectable HR on every trial patient (issue 16, Why)"
KNOWN_MISSES: dict[str, str] = {
    "promid-octreotide-median-os": _TRIAL_OS,
    "promid-placebo-median-os": _TRIAL_OS,
    "radiant3-everolimus-median-os": _TRIAL_OS,
    "radiant3-placebo-median-os": _TRIAL_OS,
    "sunitinib-median-os": _TRIAL_OS,
    "sunitinib-placebo-median-os": _TRIAL_OS,
    "netter1-prrt-median-os": _TRIAL_OS,
    "netter1-control-median-os": _TRIAL_OS,
    "lesen2019-site-hr": "no site gradient on best supportive care in the hazard-ratio model (1.03 against 1.9, 1.1-3.3)",
    "mayo2010-extrahepatic-hr": "disease.hr_extrahepatic (3.0) is applied at entry; after resection the NED and post-recurrence ratios dilute it "
    "(1.78 at the check's seed; a draw: inside at 7 of 8 seeds, mean 2.01, docs/calibration.md twenty-first step)",
}


@pytest.mark.slow
def test_every_published_target_passes_the_check():
    """The calibrated model against every published figure, 5,000 patients per arm, fixed seeds.
    Nothing is tuned here: the parameters are those saved by `nelm-sim calibrate`."""
    assert_misses_are(check(SEED_DIR), KNOWN_MISSES, "remove from KNOWN_MISSES")


def assert_misses_are(table, known: dict[str, str], when_passing: str) -> None:
    """The targets a check table misses are exactly ``known``: a new miss fails, and so does a listed one that passes."""
    failing = set(table.loc[~table["pass"], "target"])
    shown = "\n" + table[["target", "published", "simulated", "lower", "upper", "pass"]].to_string()
    assert failing - set(known) == set(), f"targets missed: {sorted(failing - set(known))}{shown}"
    assert set(known) - failing == set(), f"now passing, {when_passing}: {sorted(set(known) - failing)}{shown}"


# The burden model (off by default) where docs/calibration.md says it stands ("Where it stands now" and the
# nineteenth step): 32 of 41 calibration targets, 12 of 18 validation endpoints. Its misses are listed as the
# default model's are, so that a change of the burden model that moves any target in or out is seen here
# (and the documented figures updated with it) instead of only when someone reruns the check by hand.
_IAT = "the IAT cohort and the matched IAT arm differ by 2.5 months against 17 published: their extrahepatic shares are assumptions (docs/calibration.md, nineteenth step)"
_PNET_OS = (
    "RADIANT-3 and the sunitinib trial enrol the same population in the model; their published OS differ by 14-30%, and no set of "
    "later lines closes both (docs/calibration.md, twentieth step)"
)
BURDEN_MODEL_MISSES: dict[str, str] = {
    "mayo2011-iat-median-os": _IAT,
    "mayo2011-iat-os-5y": _IAT,
    "fig2b-iat-median-os": _IAT,
    "radiant3-everolimus-pfs-18m": "slow tumours that still grow carry the 18-month tail (ninth step: a growth floor did not move it)",
    "sunitinib-placebo-median-pfs": "5.22 against at least 5.225, and a miss in expectation too: mean 5.16 over 8 seeds (SD 0.09), "
    "inside at 1 of 8 (docs/calibration.md, twenty-first step)",
    "promid-placebo-median-os": "78.8 against at least 79.5",
    "radiant3-everolimus-median-os": _PNET_OS,
    "radiant3-placebo-median-os": _PNET_OS,
    "sunitinib-placebo-median-os": _PNET_OS,
}
BURDEN_MODEL_VALIDATION_MISSES: dict[str, str] = {
    "kose2020-pfs-5y": "no long disease-free tail after complete ablation (0.086 against 0.26)",
    "akyildiz2010-median-os": "ablated patients live too long (144 against 47.5-109.1; Kose 2020, the same centre's longer series, passes)",
    "memon2012-os-3y": "refractory patients start as if untreated (the prior lines are not named)",
    "clarinet-lanreotide-pfs-24m": "stable disease before entry selects too little slow growth (eighteenth step)",
    "clarinet-placebo-pfs-24m": "stable disease before entry selects too little slow growth (eighteenth step)",
    "clarinet-placebo-median-pfs": "stable disease before entry selects too little slow growth (eighteenth step)",
}


@pytest.mark.slow
def test_the_burden_model_misses_what_the_documentation_says_it_misses():
    burden = {"disease.burden_model": 1}
    for table, known in (
        (check(SEED_DIR, overrides=burden), BURDEN_MODEL_MISSES),
        (check_validation(SEED_DIR.parent / "validation", load_seed_scenarios(SEED_DIR), overrides=burden), BURDEN_MODEL_VALIDATION_MISSES),
    ):
        assert_misses_are(table, known, "update the list and docs/calibration.md")


@pytest.mark.slow
def test_reproduce_writes_the_four_figures(tmp_path, capsys):
    out = tmp_path / "seed-figures"
    assert main(["reproduce", "--out", str(out), "--patients", "400", "--seed-dir", str(SEED_DIR)]) == 0
    for name in ("fig1.png", "fig2b.png", "fig3a.png", "fig3b.png", "calibration.csv", "report.md"):
        assert (out / name).is_file(), name
    table = read_csv(out / "calibration.csv")
    assert set(table.columns) >= {"target", "population", "published", "simulated", "tolerance", "pass"}
    assert table["simulated"].map(math.isfinite).all()


@pytest.mark.slow
def test_calibrate_writes_the_identifiability_report(tmp_path, capsys):
    """`calibrate --check --identifiability`: the sensitivity matrix (one row per target, one column per
    calibrated parameter) and a row per parameter with rank, condition number and near-bound flag."""
    out = tmp_path / "cal"
    # 20 patients per arm, as README's example of the same command: the report's shape is tested, not its values
    main(["calibrate", "--check", "--patients", "20", "--identifiability", "--out", str(out), "--quiet"])
    matrix = read_csv(out / "identifiability.csv")
    parameters = read_csv(out / "identifiability_parameters.csv")
    data = load_targets()
    calibrated = {p.name if p.field == "value" else f"{p.name}.{p.field}" for b in data.blocks for p in b.parameters}
    assert list(matrix["target"]) == [t.id for t in data.for_every_fit()]
    assert set(matrix.columns) - {"target"} == calibrated == set(parameters["parameter"])
    assert parameters["rank"].nunique() == 1 and 1 <= parameters["rank"].iloc[0] <= len(calibrated)
    # An infinite condition number (a direction the targets do not see at all) is written empty, as every inf.
    condition = parameters["condition_number"]
    assert (condition.isna() | (condition >= 1)).all()
    # The hazard-ratio model's known boundary values are flagged (issue 16: prrt HR 0.0202 on its bound 0.02).
    flagged = set(parameters.loc[parameters["near_bound"], "parameter"])
    assert "prrt.progression_hazard_ratio" in flagged


def test_calibrate_check_with_the_burden_model_is_the_check_of_every_scenario_switched_to_it(tmp_path, capsys):
    """`calibrate --check --burden-model` gives the same calibration.csv and validation.csv as the check of
    copies of the seed and validation scenarios that set disease.burden_model: 1 themselves; the hazard-ratio
    model's check differs (so the flag is not ignored). Without --check the flag is refused in one line."""
    import yaml

    copies = tmp_path / "copies"
    for kind in ("seed", "validation"):
        (copies / kind).mkdir(parents=True)
        for source in sorted((ROOT / "scenarios" / kind).glob("*.yaml")):
            data = yaml.safe_load(source.read_text())
            data.setdefault("parameters", {})["disease.burden_model"] = 1
            (copies / kind / source.name).write_text(yaml.safe_dump(data, sort_keys=False))
    common = ["calibrate", "--check", "--patients", "30", "--quiet", "--workers", "1"]
    main([*common, "--burden-model", "--out", str(tmp_path / "flag")])
    main([*common, "--seed-dir", str(copies / "seed"), "--out", str(tmp_path / "copies-out")])
    main([*common, "--out", str(tmp_path / "default")])
    for name in ("calibration.csv", "validation.csv"):
        flag, copied = read_csv(tmp_path / "flag" / name), read_csv(tmp_path / "copies-out" / name)
        assert flag[["target", "simulated"]].equals(copied[["target", "simulated"]]), name
        assert not flag["simulated"].equals(read_csv(tmp_path / "default" / name)["simulated"]), name
    capsys.readouterr()
    assert main(["calibrate", "--burden-model", "--out", str(tmp_path / "refused")]) == 2
    assert "--burden-model: expected with --check" in capsys.readouterr().err
