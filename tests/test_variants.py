"""Scenario analyses (`nelm-sim scenarios`): variants and sweeps of a base scenario, with common
random numbers across variants as well as strategies (issue "Scenario analyses", criteria 1-4)."""

from __future__ import annotations

import contextlib
import io
import math
import re

import pandas as pd
import pytest
import yaml

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.config import Scenario, SweepAxis
from simulator.experiments.compare import run_comparison
from simulator.experiments.runner import prepare
from simulator.experiments.variants import CONTRAST_COLUMNS, SCENARIO_COLUMNS, expand, merge_overrides, run_analysis

from .conftest import ROOT, tiny_scenario

ESTIMATES = ["strategy", "metric", "estimate", "lower_95", "upper_95", "replications"]
BUNDLED = ("population-variants.yaml", "evidence-variants.yaml", "structural-variants.yaml")


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


def _analysis(data: dict, **options):
    scenario = Scenario.model_validate(data)
    return run_analysis(scenario, "scenario.yaml", **options)


# -- criterion 1: a variant with no overrides reproduces the base exactly ------------------------


def test_a_variant_without_overrides_reproduces_the_base_exactly():
    data = tiny_scenario(
        replications=2,
        cohort={"size": 120},
        variants=[
            {"name": "same", "description": "no overrides"},
            {"name": "weak-ssa", "parameters": {"octreotide_lar.progression_hazard_ratio": 0.59}},
        ],
    )
    analysis = _analysis(data)
    base, same, weak = (r.summary.reset_index(drop=True) for r in analysis.results)
    pd.testing.assert_frame_equal(same, base)  # every metric, interval and count, bit for bit
    pd.testing.assert_frame_equal(analysis.results[1].survival, analysis.results[0].survival)
    assert not weak["estimate"].equals(base["estimate"])  # and a real override does change something
    # The base is the scenario `nelm-sim compare` runs: the same numbers.
    plain = Scenario.model_validate(tiny_scenario(replications=2, cohort={"size": 120}))
    compared = run_comparison(prepare(plain, "scenario.yaml")).summary.reset_index(drop=True)
    pd.testing.assert_frame_equal(base[ESTIMATES], compared[ESTIMATES])
    assert analysis.changes["same"] == [] and analysis.changes["weak-ssa"]


# -- criterion 2: 5-year OS of surgery-first falls as hepatectomy perioperative mortality rises --


def test_sweep_over_perioperative_mortality_lowers_five_year_survival_of_surgery_first():
    # Perioperative death is `uniform < p` on the patient's own stream, the same at every sweep point
    # (common random numbers): a higher p kills a superset of patients, so no replication can gain.
    values = [0.0, 0.05, 0.1, 0.2, 0.4]
    data = tiny_scenario(
        seed=2024,
        replications=2,
        cohort={"size": 400},
        strategies=["surgery-first"],
        sweep={"parameter": "hepatectomy.perioperative_mortality", "values": values},
    )
    analysis = _analysis(data)
    points = [r for r in analysis.results if r.run.kind == "sweep"]
    assert [r.run.sweep[0][1] for r in points] == values
    os5 = [float(r.summary.loc[r.summary["metric"] == "os_5y", "estimate"].iloc[0]) for r in points]
    assert all(later < earlier for earlier, later in zip(os5, os5[1:])), os5


def test_results_do_not_depend_on_the_number_of_workers():
    data = tiny_scenario(
        cohort={"size": 60},
        variants=[{"name": "older", "cohort": {"age": 75.0}}],
        sweep={"parameter": "hepatectomy.perioperative_mortality", "values": [0.0, 0.1]},
    )
    serial, parallel = _analysis(data, workers=1).table(), _analysis(data, workers=2).table()
    pd.testing.assert_frame_equal(serial, parallel)
    assert list(serial.columns) == SCENARIO_COLUMNS
    assert list(serial["variant"].unique()) == [
        "base",
        "older",
        "hepatectomy.perioperative_mortality=0",
        "hepatectomy.perioperative_mortality=0.1",
    ]


# -- merging and expanding ----------------------------------------------------------------------


def test_overrides_merge_into_the_base_key_by_key():
    base = Scenario.model_validate(
        tiny_scenario(
            cohort={"size": 60, "mix": {"functional": 0.6, "male": 0.5}},
            parameters={"hepatectomy.major_share": 0.3, "cohort.extrahepatic": 0.1},
        )
    ).model_dump()
    merged = merge_overrides(
        base,
        {
            "cohort": {"mix": {"functional": 1.0, "extrahepatic": 0.0}},
            "parameters": {"cohort.male": 0.9, "tace.symptom_response": 0.5},
            "horizon_months": 60.0,
        },
    )
    assert merged["cohort"]["mix"] == {"functional": 1.0, "extrahepatic": 0.0}  # male moved to parameters; extrahepatic taken over
    assert merged["parameters"] == {"hepatectomy.major_share": 0.3, "cohort.male": 0.9, "tace.symptom_response": 0.5}
    assert merged["cohort"]["size"] == 60 and merged["horizon_months"] == 60.0
    assert base["cohort"]["mix"] == {"functional": 0.6, "male": 0.5}  # the base is not modified


def test_expand_describes_each_run_and_keeps_the_seed():
    data = tiny_scenario(
        cohort={"size": 60},
        replications=2,
        variants=[
            {
                "name": "pancreatic",
                "cohort": {"mix": {"primary_pancreas": 1.0, "primary_small_bowel": 0.0}},
                "strategies": ["systemic-first"],
            }
        ],
        sweep={
            "parameter": "hepatectomy.perioperative_mortality",
            "from": 0.0,
            "to": 0.1,
            "steps": 3,
            "second": {"parameter": "cohort.functional", "values": [0.2, 0.8]},
        },
    )
    runs = expand(Scenario.model_validate(data), "scenario.yaml")
    assert [r.kind for r in runs] == ["base", "variant"] + ["sweep"] * 6
    assert {r.prepared.scenario.seed for r in runs} == {7} and {r.prepared.scenario.replications for r in runs} == {2}
    assert runs[1].strategies == ["systemic-first"] and runs[1].prepared.params.value("cohort.primary_pancreas") == 1.0
    assert runs[2].sweep == (("hepatectomy.perioperative_mortality", 0.0), ("cohort.functional", 0.2))
    assert runs[-1].prepared.params.value("hepatectomy.perioperative_mortality") == 0.1
    assert runs[-1].prepared.params.value("cohort.functional") == 0.8


def test_a_range_ends_exactly_on_its_last_value():
    axis = SweepAxis.model_validate({"parameter": "x", "from": 0.1, "to": 0.7, "steps": 7})
    points = axis.points()
    assert len(points) == 7 and points[0] == 0.1 and points[-1] == 0.7


# -- criterion 4: invalid variants get the one-line error treatment -----------------------------


BAD_INPUT = [
    (
        {"variants": [{"name": "ok"}, {"name": "bad", "parameters": {"hepatectomy.magic": 0.1}}]},
        "variants[1].parameters.hepatectomy.magic",
        "nelm-sim params",
    ),
    ({"variants": [{"name": "bad", "cohort": {"colour": "red"}}]}, "variants[0].cohort.colour", "unknown key"),
    ({"variants": [{"name": "bad", "hospital": {"beds": 3}}]}, "variants[0].hospital", "unknown key"),
    ({"variants": [{"name": "bad", "seed": 3}]}, "variants[0].seed", "unknown key"),
    (
        {"variants": [{"name": "bad", "parameters": {"hepatectomy.perioperative_mortality": 1.5}}]},
        "variants[0].parameters.hepatectomy.perioperative_mortality",
        "<= 1",
    ),
    ({"variants": [{"name": "bad", "cohort": {"mix": {"primary_pancreas": 0.9}}}]}, "variants[0].cohort.mix", "sum to at most 1"),
    ({"variants": [{"name": "bad", "strategies": ["no-such-strategy"]}]}, "variants[0].strategies[0].name", "bundled strategy"),
    ({"variants": [{"name": "base"}]}, "variants[0].name", "other than 'base'"),
    ({"sweep": {"parameter": "hepatectomy.perioperative_mortality", "values": [0.0, 0.02, 1.5]}}, "sweep.values[2]", "<= 1 (probability)"),
    ({"sweep": {"parameter": "hepatectomy.perioperative_mortality", "from": 0.0, "to": 2.0, "steps": 3}}, "sweep.to", "<= 1 (probability)"),
    ({"sweep": {"parameter": "hepatectomy.magic", "values": [0.1]}}, "sweep.parameter", "nelm-sim params"),
    ({"sweep": {"parameter": "natural_history.time_to_progression", "values": [0.1]}}, "sweep.parameter", "a single value"),
    ({"sweep": {"parameter": "hepatectomy.perioperative_mortality", "values": [0.1], "from": 0.0}}, "sweep", "not both"),
]


@pytest.mark.parametrize(("changes", "field", "words"), BAD_INPUT, ids=[case[1] for case in BAD_INPUT])
def test_invalid_variants_and_sweeps_end_with_one_line(tmp_path, write_scenario, changes, field, words):
    path = write_scenario(tiny_scenario(**changes))
    out = tmp_path / "out"
    for command in (["scenarios", str(path), "--out", str(out)], ["validate", str(path)]):
        status, stdout, err = _run(command)
        assert status == 2, (command, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert f"{path}: {field}: expected" in err and words in err, err
    assert not out.exists()


# -- the command and its folder -----------------------------------------------------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("scenarios")
    path = root / "scenario.yaml"
    data = tiny_scenario(
        replications=2,
        cohort={"size": 80},
        variants=[{"name": "all-functional", "description": "Every tumour is functional.", "cohort": {"mix": {"functional": 1.0}}}],
        sweep={"parameter": "hepatectomy.perioperative_mortality", "values": [0.0, 0.1]},
    )
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    status, out, err = _run(["scenarios", str(path), "--out", str(root / "out"), "--quiet"])
    assert status == 0, err
    return root / "out", out, path


def test_scenarios_writes_a_tidy_table_figures_and_a_report_section(folder):
    out, stdout, _ = folder
    table = read_csv(out / "scenarios.csv")
    assert list(table.columns) == SCENARIO_COLUMNS
    assert set(table["variant"]) == {
        "base",
        "all-functional",
        "hepatectomy.perioperative_mortality=0",
        "hepatectomy.perioperative_mortality=0.1",
    }
    for name in ("variants.csv", "survival.csv", "report.html", "manifest.json", "scenario.resolved.yaml"):
        assert (out / name).is_file(), name
    for name in ("sweep_os_5y.png", "variants_os_5y.png", "km_by_variant.png", "km_overall_survival.png"):
        assert (out / "figures" / name).is_file(), name
    report = (out / "report.html").read_text(encoding="utf-8")
    section = report[report.index("<h2>Scenario analysis</h2>") : report.index("<h2>Main results of the base scenario</h2>")]
    assert len(re.findall(r'<img alt="[^"]*" src="data:image/png;base64,', section)) == 3
    assert (
        "Every tumour is functional." in section
        and "share with functional (hormone-secreting) tumours (cohort.functional): 100% instead of 47%" in section
    )
    assert "all-functional" in stdout and "os_5y" in stdout


def test_icer_csv_holds_each_runs_incremental_analysis_on_its_own_means(folder):
    """icer.csv (issue 17 item 6: a structure's effect on the ICERs): per run, the incremental analysis
    of economics.csv's mean costs and QALYs; each frontier strategy's ICER is its cost difference over
    its QALY difference from the previous frontier strategy of the same run."""
    out, _, _ = folder
    icers = read_csv(out / "icer.csv")
    economics = read_csv(out / "economics.csv").set_index(["variant", "strategy"])
    assert set(icers["variant"]) == set(economics.index.get_level_values("variant"))
    for variant, block in icers.groupby("variant"):
        assert sorted(block["strategy"]) == sorted(economics.loc[variant].index)
        frontier = block[block["status"] == "frontier"].sort_values("qalys")
        assert len(frontier) >= 1
        for previous, current in zip(frontier.itertuples(), frontier.iloc[1:].itertuples()):
            expected = (current.costs - previous.costs) / (current.qalys - previous.qalys)
            assert current.icer == pytest.approx(expected, rel=1e-9)
        means = economics.loc[variant]
        assert block.set_index("strategy")["costs"].to_dict() == pytest.approx(means["costs"].to_dict(), rel=1e-9)


def test_comparison_csv_pairs_each_variant_with_the_base(folder):
    """comparison.csv: every run but the base against the base, per strategy and metric; its two
    estimates are scenarios.csv's (same replications), and the contrast is their difference."""
    out, _, _ = folder
    contrasts = read_csv(out / "comparison.csv")
    table = read_csv(out / "scenarios.csv").set_index(["variant", "strategy", "metric"])
    assert list(contrasts.columns) == CONTRAST_COLUMNS
    assert set(contrasts["variant"]) == {
        "all-functional",
        "hepatectomy.perioperative_mortality=0",
        "hepatectomy.perioperative_mortality=0.1",
    }
    differences = contrasts[(contrasts["contrast"] == "difference") & (contrasts["replications"] == 2)]
    assert len(differences) > 50
    for row in differences.itertuples():
        assert row.variant_estimate == pytest.approx(table.loc[(row.variant, row.strategy, row.metric), "estimate"], rel=1e-9, abs=1e-12)
        assert row.base_estimate == pytest.approx(table.loc[("base", row.strategy, row.metric), "estimate"], rel=1e-9, abs=1e-12)
        written = 1e-9 * max(abs(row.variant_estimate), abs(row.base_estimate), 1.0)  # CSVs keep 10 significant digits
        assert row.estimate == pytest.approx(row.variant_estimate - row.base_estimate, abs=2 * written)
        assert row.lower_95 <= row.estimate <= row.upper_95 or math.isnan(row.lower_95)
    ratios = contrasts[contrasts["contrast"] == "ratio"]
    assert set(ratios["metric"]) <= {"hr_os_vs_comparator"}
    functional = contrasts[(contrasts["variant"] == "all-functional") & (contrasts["metric"] == "mean_months_uncontrolled")]
    assert (functional["estimate"] > 0).all()  # every patient starts with uncontrolled symptoms in that variant


def test_scenarios_refuses_an_existing_folder_without_force(folder):
    out, _, path = folder
    before = sorted(p.name for p in out.iterdir())
    status, _, err = _run(["scenarios", str(path), "--out", str(out), "--quiet"])
    assert status == 2 and "--force" in err
    assert sorted(p.name for p in out.iterdir()) == before


def test_resolved_yaml_runs_again(folder, tmp_path):
    out, _, _ = folder
    resolved = out / "scenario.resolved.yaml"
    status, stdout, err = _run(["validate", str(resolved)])
    assert status == 0 and "1 variants, 2 sweep points" in stdout, err


# -- criterion 3: the bundled files -------------------------------------------------------------


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenario_files_validate(name):
    status, stdout, err = _run(["validate", str(ROOT / "scenarios" / name)])
    assert status == 0 and err == "", err
    assert "variants" in stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_scenario_files_run_and_report_their_figures(name, tmp_path):
    """Every variant of the bundled file runs and the report draws its figures. 20 patients and one
    replication (the files ship 500 x 3): what is checked does not depend on the size, and at full size
    three of these runs took 63 s of a two-worker suite."""
    options = ["--patients", "20", "--replications", "1"]
    status, _, err = _run(
        ["scenarios", str(ROOT / "scenarios" / name), *options, "--out", str(tmp_path / "out"), "--quiet", "--workers", "2"]
    )
    assert status == 0, err
    report = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    section = report[report.index("<h2>Scenario analysis</h2>") : report.index("<h2>Main results of the base scenario</h2>")]
    expected = 3 if "sweep" in (ROOT / "scenarios" / name).read_text(encoding="utf-8") else 2
    assert len(re.findall(r'src="data:image/png;base64,', section)) == expected


def test_scenarios_metric_takes_wait_metrics_and_refuses_a_resource_the_scenario_lacks(tmp_path, capsys):
    """--metric refused the wait metrics a planner compares variants on (issue 20, item 8)."""
    scenario = ROOT / "tests" / "regression" / "scenarios" / "capacity.yaml"
    out = tmp_path / "waits"
    assert main(["scenarios", str(scenario), "--metric", "wait_p90_days_theatre", "--quiet", "--out", str(out)]) == 0
    assert "wait_p90_days_theatre" in capsys.readouterr().out
    variants = read_csv(out / "variants.csv")
    # An open population: the patients who arrived in the statistics window, not the placeholder cohort size of 1.
    assert (variants["patients"] > 10).all()
    assert main(["scenarios", str(scenario), "--metric", "wait_p90_days_theatr", "--quiet", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'theatre'?" in err[0] and not (tmp_path / "x").exists()


def test_the_scenario_report_shows_waits_per_variant_for_capacity_scenarios(regression_run):
    """The report showed waits for the base only (issue 20, item 8). The folder is the regression
    case's `nelm-sim scenarios tests/regression/scenarios/capacity.yaml`, run once per session."""
    folder, _ = regression_run("scenarios")
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "90th-percentile wait: theatre by variant" in report
    section = report.split("90th-percentile wait: theatre by variant", 1)[1].split("</table>", 1)[0]
    assert "base" in section and "ample-theatre" in section
