"""Calibration targets, tolerance rules, and the published-figure check (slow: CI runs it)."""

from __future__ import annotations

import math

import pytest

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.experiments.calibrate import Target, check, load_seed_scenarios, load_targets
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


# Targets the calibrated model still misses (issue 4 stays open while this is not empty). Each is
# listed so that the miss is visible and deliberate; the test fails if another target misses, and
# also if one of these starts to pass, so that the list never hides anything. Empty since the
# structural changes of docs/calibration.md ("Structure that the fit relies on"): the pNET trials'
# progression-assessment ratios (investigator vs central review) and the matched Fig 2B cohort.
KNOWN_MISSES: dict[str, str] = {}


@pytest.mark.slow
def test_every_published_target_passes_the_check():
    """The calibrated model against every published figure, 5,000 patients per arm, fixed seeds.
    Nothing is tuned here: the parameters are those saved by `nelm-sim calibrate`."""
    table = check(SEED_DIR)
    failing = set(table.loc[~table["pass"], "target"])
    shown = "\n" + table[["target", "published", "simulated", "lower", "upper", "pass"]].to_string()
    assert failing - set(KNOWN_MISSES) == set(), f"targets missed: {sorted(failing - set(KNOWN_MISSES))}{shown}"
    assert set(KNOWN_MISSES) - failing == set(), f"now passing, remove from KNOWN_MISSES: {sorted(set(KNOWN_MISSES) - failing)}"


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
    assert list(matrix["target"]) == [t.id for t in data.targets]
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
