"""`nelm-sim compare`: the run folder it writes, its determinism, its errors and the precision rule
(issue 5, criteria 1 and 4)."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import re

import pandas as pd
import pytest
import yaml

from simulator.cli import main
from simulator.config import Scenario
from simulator.experiments.compare import PRECISION_MIN_REPLICATIONS, run_replication
from simulator.experiments.runner import prepare, run_prepared
from simulator.outcomes.comparison import DEFAULT_PRECISION_METRICS, precision_status, summarise_replications

from .conftest import tiny_scenario

STRATEGIES = ["surgery-first", "systemic-first", "best-supportive-care"]
FIGURES = [
    "km_overall_survival.png",
    "km_progression_free_survival.png",
    "hazard_ratios.png",
    "symptom_control.png",
    "state_occupancy.png",
] + [f"swimmer_{s}.png" for s in STRATEGIES]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _scenario(**changes) -> dict:
    return tiny_scenario(**{"replications": 2, "cohort": {"size": 150}, "strategies": STRATEGIES, **changes})


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(argv)
    return status, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """The same scenario compared twice, into two folders."""
    root = tmp_path_factory.mktemp("compare")
    path = root / "scenario.yaml"
    path.write_text(yaml.safe_dump(_scenario(), sort_keys=False), encoding="utf-8")
    runs = []
    for name in ("first", "second"):
        status, out, err = _run(["compare", str(path), "--out", str(root / name), "--comparator", "systemic-first"])
        assert status == 0, err
        runs.append((root / name, out))
    return path, runs


def test_compare_writes_every_promised_file(compared):
    _, [(folder, _), _] = compared
    for name in ("comparison.csv", "replications.csv", "patients.csv", "report.html", "manifest.json", "scenario.resolved.yaml"):
        assert (folder / name).is_file(), name
    for name in FIGURES:
        assert (folder / "figures" / name).read_bytes().startswith(PNG_SIGNATURE), name
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["replications"] == 2 and manifest["comparator"] == "systemic-first" and manifest["precision"] is None
    assert sorted(manifest["figures"]) == sorted(f"figures/{name}" for name in FIGURES)
    assert not any(p.name.startswith(".") for p in folder.parent.iterdir()), "a staging folder was left behind"


def test_comparison_csv_is_tidy_and_consistent(compared):
    _, [(folder, _), _] = compared
    table = pd.read_csv(folder / "comparison.csv")
    for column in ("strategy", "metric", "estimate", "lower_95", "upper_95", "replications"):
        assert column in table.columns
    assert not table.duplicated(["strategy", "metric"]).any()
    assert list(table["strategy"].unique()) == STRATEGIES
    metrics = table.groupby("strategy")["metric"].apply(frozenset)
    assert metrics.nunique() == 1, "every strategy reports the same metrics"
    for metric in (
        "median_os_months",
        "rmst_os_months",
        "hr_os_vs_comparator",
        "life_years_gained",
        "os_5y",
        "mean_months_uncontrolled",
        "controlled_by_6m",
        "symptom_free_survival_months",
        "procedures_hepatectomy",
        "mean_active_lines",
        "months_on_octreotide_lar",
        "adverse_events_per_patient",
        "death_disease",
    ):
        assert metric in metrics.iloc[0], metric
    assert (table.loc[table["metric"] == "rmst_os_months", "replications"] == 2).all()
    bounded = table.dropna(subset=["lower_95", "upper_95"])
    assert ((bounded["lower_95"] <= bounded["estimate"] + 1e-12) & (bounded["estimate"] <= bounded["upper_95"] + 1e-12)).all()
    # The estimate is the mean of the per-replication values in replications.csv.
    per = pd.read_csv(folder / "replications.csv")
    rmst = per[per["metric"] == "rmst_os_months"].groupby("strategy")["value"].mean()
    shown = table[table["metric"] == "rmst_os_months"].set_index("strategy")["estimate"]
    pd.testing.assert_series_equal(shown.sort_index(), rmst.sort_index(), check_names=False)
    reference = table[(table["strategy"] == "systemic-first") & table["metric"].isin(["hr_os_vs_comparator", "life_years_gained"])]
    assert reference["estimate"].tolist() == [1.0, 0.0]


def test_report_is_one_self_contained_file(compared):
    _, [(folder, _), _] = compared
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert "<script" not in text and "<link" not in text and "url(" not in text
    sources = re.findall(r'<img[^>]*src="([^"]*)"', text)
    assert len(sources) == len(FIGURES)
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    for needed in (
        "Model description (STRESS-DES)",
        "Parameter provenance",
        "The cohort",
        "Strategies",
        "hepatectomy.perioperative_mortality",
        "otherwise: best supportive care",
        "Seed",
        "nelm-sim 0.",
    ):
        assert needed in text, needed
    for item in (
        "1.1",
        "1.2",
        "1.3",
        "2.1",
        "2.2",
        "2.3",
        "2.4",
        "2.5.1",
        "2.5.2",
        "2.5.3",
        "2.5.4",
        "2.5.5",
        "3.1",
        "3.2",
        "3.3",
        "3.4",
        "4.1",
        "4.2",
        "4.3",
        "5.1",
        "5.2",
        "5.3",
        "5.4",
        "6.1",
    ):
        assert f"<td>{item}</td>" in text, item


def test_terminal_table_has_one_row_per_strategy(compared):
    _, [(_, out), _] = compared
    lines = out.strip().splitlines()
    assert lines[0].startswith("wrote ")
    assert lines[1].startswith("Means over replications")  # not run's pooled estimates (README)
    header = lines[2]
    for column in ("strategy", "median OS", "5-y OS", "RMST", "HR vs systemic-first", "months uncontrolled"):
        assert column in header
    rows = lines[3:]
    assert [row.split()[0] for row in rows] == STRATEGIES
    assert "reference" in rows[1] and "1.00 [1.00, 1.00]" not in out
    assert re.search(r"\d%", rows[0])  # 5-year OS as a percentage


def test_the_comparators_own_rows_say_reference_in_the_report(compared):
    """Issue 20 item 2: the comparator's hazard ratio (1 by definition) and life-years gained (0) are
    the reference, in the headline table and in every result table of report.html."""
    _, [(folder, _), _] = compared
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "1.00 [1.00, 1.00]" not in report
    assert report.count("<td>reference</td>") == 3  # headline HR, all-results HR and life-years gained


def test_same_seed_same_comparison(compared):
    _, [(first, _), (second, _)] = compared
    for name in ("comparison.csv", "replications.csv", "patients.csv", "state_occupancy.csv", "report.html"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_replications_match_the_runner():
    """compare runs one replication at a time; it must give exactly what runner.run_prepared gives."""
    prepared = prepare(Scenario.model_validate(_scenario(cohort={"size": 40})), "scenario.yaml")
    expected = run_prepared(prepared)
    pieces = [run_replication(prepared, r) for r in range(prepared.scenario.replications)]
    pd.testing.assert_frame_equal(pd.concat([p for _, p in pieces], ignore_index=True), expected.patients)
    events = pd.concat([e for e, _ in pieces], ignore_index=True)
    pd.testing.assert_frame_equal(events.astype({"event": str}), expected.events.astype({"event": str}))


def test_bad_input_is_one_line_and_writes_nothing(compared, tmp_path):
    path, [(existing, _), _] = compared
    status, _, err = _run(["compare", str(path), "--out", str(existing)])
    assert status == 2 and "--force" in err and len(err.strip().splitlines()) == 1
    status, _, err = _run(["compare", str(path), "--out", str(tmp_path / "new"), "--comparator", "nope"])
    assert status == 2 and "--comparator" in err and "systemic-first" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()
    with pytest.raises(SystemExit) as stop, contextlib.redirect_stderr(io.StringIO()):
        main(["compare", str(path), "--precision", "1.5"])
    assert stop.value.code == 2


def test_precision_that_cannot_be_met_stops_at_the_maximum(write_scenario, tmp_path):
    path = write_scenario(_scenario(cohort={"size": 40}, strategies=["systemic-first", "best-supportive-care"]))
    status, _, err = _run(["compare", str(path), "--out", str(tmp_path / "o"), "--precision", "0.001", "--max-replications", "3"])
    assert status == 0 and "not reached" in err
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["replications"] == 3 and manifest["precision_met"] is False and manifest["max_replications"] == 3


@pytest.mark.slow
def test_precision_stops_at_the_first_count_that_meets_it(write_scenario, tmp_path):
    """--precision 0.05: the run stops at the first replication count (from 3 on) at which the 95% CI
    half-width of median OS and RMST is within 5% of the mean for every strategy, and says so in the
    manifest. Recomputed here from replications.csv for every count up to the one it stopped at."""
    path = write_scenario(_scenario(cohort={"size": 500}, strategies=["systemic-first", "best-supportive-care"], horizon_months=120))
    status, _, err = _run(["compare", str(path), "--out", str(tmp_path / "p"), "--precision", "0.05"])
    assert status == 0, err
    manifest = json.loads((tmp_path / "p" / "manifest.json").read_text())
    stopped = manifest["replications"]
    assert manifest["precision"] == 0.05 and manifest["precision_met"] is True
    assert stopped > PRECISION_MIN_REPLICATIONS, "the test needs a run that did not stop at once"
    per = pd.read_csv(tmp_path / "p" / "replications.csv")
    assert per["replication"].nunique() == stopped
    names = ["systemic-first", "best-supportive-care"]
    for count in range(PRECISION_MIN_REPLICATIONS, stopped + 1):
        summary = summarise_replications(per[per["replication"] < count], names)
        met, _ = precision_status(summary, DEFAULT_PRECISION_METRICS, 0.05, "systemic-first")
        assert met == (count == stopped), count
    assert [t["replications"] for t in manifest["precision_trace"]] == list(range(PRECISION_MIN_REPLICATIONS, stopped + 1))
    comparison = pd.read_csv(tmp_path / "p" / "comparison.csv")
    assert (comparison.loc[comparison["metric"] == "rmst_os_months", "replications"] == stopped).all()
