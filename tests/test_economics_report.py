"""The health-economics report (issue 18 item 5) and the exports (item 7): report.html of `psa` and
`run` has the base-case ICER table, the PSA figures and the 28 CHEERS 2022 items; psa_costs.csv,
psa_effects.csv (BCEA/dampack layout) and results.xlsx read back to the run's own numbers.

One tiny PSA and one tiny run (three strategies, a few patients; about 6 s together) are shared by the
module's slow tests; the checklist's data and the sections' rendering are tested without a run."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.commands.params import parameter_rows
from simulator.config import EconomicsConfig
from simulator.economics.cea import icer_table
from simulator.economics.settings import EconomicSettings
from simulator.params.parameter_set import build_parameter_set
from simulator.reporting import numbers
from simulator.reporting.economics_report import (
    CHEERS_ITEMS,
    FIGURE_SECTIONS,
    EconomicsView,
    cheers_items,
    economics_section,
    report_sections,
)
from simulator.reporting.exports import PARAMETERS_SHEET, WORKBOOK, WORKBOOK_TABLES

from .conftest import ROOT, tiny_scenario

TEMPLATES = ROOT / "simulator" / "reporting" / "templates"
STRATEGIES = ["surgery-first", "systemic-first", "best-supportive-care"]
SCENARIO = tiny_scenario(
    name="he-report",
    description="Three strategies on a tiny cohort for the health-economics report's tests.",
    seed=5,
    replications=2,
    cohort={"size": 15},
    strategies=STRATEGIES,
)


def _cli(arguments: list[str]) -> str:
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(io.StringIO()):
        assert main(arguments) == 0
    return stdout.getvalue()


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("he") / "he-report.yaml"
    path.write_text(yaml.safe_dump(SCENARIO), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def psa_folder(scenario_file) -> Path:
    out = scenario_file.parent / "psa"
    _cli(["psa", str(scenario_file), "--draws", "3", "--patients", "12", "--workers", "1", "--quiet", "--xlsx", "--out", str(out)])
    return out


@pytest.fixture(scope="module")
def run_outcome(scenario_file) -> tuple[Path, str]:
    out = scenario_file.parent / "run"
    printed = _cli(["run", str(scenario_file), "--workers", "1", "--quiet", "--xlsx", "--out", str(out)])
    return out, printed


def _report(folder: Path) -> str:
    return (folder / "report.html").read_text(encoding="utf-8")


def _section(report: str, section: str) -> str:
    """The HTML of a section: from its heading to the next heading of the same or a higher level."""
    match = re.search(rf'<h([1-4]) id="{section}"', report)
    assert match, f"report.html has no section {section}"
    level = int(match.group(1))
    end = re.compile(rf"<h[1-{level}][ >]").search(report, match.end())
    return report[match.start() : end.start() if end else len(report)]


# ------------------------------------------------------------------------------ report.html of psa


@pytest.mark.slow
def test_psa_report_has_the_base_case_icer_table_with_icer_csv_numbers(psa_folder):
    report = _report(psa_folder)
    icer = read_csv(psa_folder / "icer.csv")
    table = _section(report, "he-incremental")
    for row in icer.itertuples():
        assert f"<td>{row.strategy}</td>" in table
        assert f"<td>{numbers.money(row.costs)}</td>" in table
        if not np.isnan(row.icer):
            assert f"<td>{numbers.money(row.icer)}</td>" in table, f"ICER of {row.strategy}"
    base_case = _section(report, "he-base-case")
    summary = read_csv(psa_folder / "psa_summary.csv")
    for row in summary.itertuples():
        assert numbers.interval(row.qalys, row.qalys_lower_95, row.qalys_upper_95, "qalys") in base_case
    nmb = _section(report, "he-nmb")
    for wtp in (20000, 30000):
        best = icer.loc[icer[f"nmb_{wtp}"].idxmax()]
        assert f"{best.strategy} has the highest net monetary benefit" in report
        assert numbers.money(best[f"nmb_{wtp}"]) in nmb


@pytest.mark.slow
@pytest.mark.parametrize("section", ["he-ce-plane", "he-ceac", "he-ceaf", "he-evpi", "he-convergence"])
def test_psa_report_embeds_each_figure(psa_folder, section):
    part = _section(_report(psa_folder), section)
    assert FIGURE_SECTIONS[section] in part
    assert re.search(r'<img alt="[^"]+" src="data:image/png;base64,[A-Za-z0-9+/]{1000,}={0,2}">', part), f"{section}: no embedded PNG"


@pytest.mark.slow
def test_psa_report_evpi_table_matches_evpi_csv(psa_folder):
    evpi = read_csv(psa_folder / "evpi.csv").set_index("wtp")
    part = _section(_report(psa_folder), "he-evpi")
    for wtp in (20000, 30000):
        assert f"<td>{numbers.money(evpi.at[wtp, 'evpi_per_patient'])}</td>" in part
        assert f"<td>{numbers.money(evpi.at[wtp, 'evpi_population'])}</td>" in part


@pytest.mark.slow
def test_psa_report_stands_alone(psa_folder):
    report = _report(psa_folder)
    assert "<script" not in report
    assert not re.search(r'(src|href)="(https?:|//|file:)', report), "report.html fetches something"
    assert not re.search(r'href="(?!#)', report), "every link stays inside the report"


@pytest.mark.slow
def test_costs_by_category_in_the_psa_report(psa_folder):
    outcomes = read_csv(psa_folder / "psa.csv")
    categories = [c for c in outcomes.columns if c.startswith("cost_")]
    if not categories:
        pytest.skip("psa.csv has no cost-category columns yet (issue 18 item 3); the section is left out until it has")
    part = _section(_report(psa_folder), "he-costs-by-category")
    means = outcomes.groupby("strategy")[categories].mean()
    for strategy in STRATEGIES:
        for column in categories:
            assert numbers.money(means.at[strategy, column]) in part


@pytest.mark.slow
def test_qaly_shortfall_in_the_psa_report(psa_folder):
    summary = read_csv(psa_folder / "psa_summary.csv").set_index("strategy")
    outcomes = read_csv(psa_folder / "psa.csv")
    if "qaly_shortfall_absolute" in summary.columns:
        means = summary["qaly_shortfall_absolute"]
    elif "qaly_shortfall_absolute" in outcomes.columns:
        means = outcomes.groupby("strategy")["qaly_shortfall_absolute"].mean()
    else:
        pytest.skip(
            "psa_summary.csv and psa.csv have no QALY-shortfall columns yet (issue 18 item 2); the section is left out until they have"
        )
    part = _section(_report(psa_folder), "he-severity")
    for strategy in STRATEGIES:
        assert numbers.qalys(means[strategy]) in part


# ------------------------------------------------------------------------------ CHEERS 2022


def test_cheers_data_has_the_28_items_each_answered():
    items = cheers_items()
    assert [item["item"] for item in items] == list(range(1, CHEERS_ITEMS + 1))
    for item in items:
        assert item["section"] and item["topic"]
        if item.get("not_applicable"):
            assert len(item["not_applicable"]) > 40, f"item {item['item']}: say why it does not apply"
        else:
            assert item.get("report") or item.get("files") or item.get("readme"), f"item {item['item']} points nowhere"
            assert item["text"]


def test_cheers_pointers_exist():
    """Every README heading an item names is a heading of README.md, and every report section it
    names is one a template writes."""
    headings = {line.lstrip("#").strip() for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.startswith("#")}
    written = set(FIGURE_SECTIONS)
    for template in TEMPLATES.glob("*.j2"):
        written |= set(re.findall(r'id="([a-z0-9-]+)"', template.read_text(encoding="utf-8")))
    for item in cheers_items():
        for heading in item.get("readme", []):
            assert heading in headings, f"item {item['item']}: README has no heading {heading!r}"
        for section in item.get("report", []):
            assert section in written, f"item {item['item']}: no template writes section {section!r}"


@pytest.mark.slow
@pytest.mark.parametrize("number", range(1, CHEERS_ITEMS + 1))
def test_psa_report_fills_each_cheers_item(psa_folder, number):
    report = _report(psa_folder)
    item = cheers_items()[number - 1]
    row = re.search(rf'<tr id="cheers-{number}"><td>{number}</td>(.*?)</tr>', report, re.S)
    assert row, f"CHEERS item {number} is missing"
    cells = re.findall(r"<td>(.*?)</td>", row.group(1), re.S)
    section, topic, where, text = cells
    assert topic == item["topic"].replace("'", "&#39;")
    assert where.strip(), f"item {number}: no location"
    assert text.strip()
    sections = report_sections(report)
    for target in re.findall(r'href="#([^"]+)"', where):
        assert target in sections, f"item {number} links to a section the report lacks: {target}"
    if item.get("not_applicable"):
        assert where == "not applicable"


@pytest.mark.slow
def test_cheers_says_what_this_psa_does_not_report(psa_folder):
    report = _report(psa_folder)
    row = re.search(r'<tr id="cheers-18">(.*?)</tr>', report, re.S).group(1)
    if "he-subgroups" in report_sections(report):
        assert 'href="#he-subgroups"' in row
    else:
        assert "Not characterised in this run" in row
    uncertainty = re.search(r'<tr id="cheers-24">(.*?)</tr>', report, re.S).group(1)
    for section in ("he-ce-plane", "he-ceac", "he-ceaf", "he-evpi", "he-convergence"):
        assert f'href="#{section}"' in uncertainty


# ------------------------------------------------------------------------------ sections the tables light up


def _view(results: pd.DataFrame) -> EconomicsView:
    settings = EconomicSettings.from_config(EconomicsConfig())
    whole = results[results["subgroup"] == "all"] if "subgroup" in results else results
    icer = icer_table(list(whole["strategy"]), whole["costs"], whole["qalys"], settings.willingness_to_pay, "b")
    return EconomicsView(settings, ["a", "b"], "b", results, icer, "Made-up means for a test.", 240.0)


def test_optional_sections_are_left_out_without_their_columns():
    results = pd.DataFrame({"strategy": ["a", "b"], "costs": [30000.0, 10000.0], "qalys": [3.0, 2.0], "life_years": [4.0, 3.0]})
    sections = report_sections(economics_section(_view(results)))
    assert {"he-base-case", "he-incremental", "he-nmb"} <= set(sections)
    assert not {"he-costs-by-category", "he-severity", "he-subgroups", "he-psa"} & set(sections)


def test_categories_shortfall_and_subgroups_are_shown_once_the_tables_have_them():
    results = pd.DataFrame(
        {
            "subgroup": ["all", "all", "grade", "grade"],
            "subgroup_value": ["all", "all", "G1", "G1"],
            "strategy": ["a", "b", "a", "b"],
            "costs": [30000.0, 10000.0, 25000.0, 9000.0],
            "qalys": [3.0, 2.0, 3.5, 2.5],
            "life_years": [4.0, 3.0, 4.5, 3.5],
            "cost_drugs": [20000.0, 2500.0, 16000.0, 2000.0],
            "cost_procedures": [10000.0, 7500.0, 9000.0, 7000.0],
            "qaly_shortfall_absolute": [12.5, 12.5, 11.0, 11.0],
            "qaly_shortfall_proportional": [0.86, 0.86, 0.8, 0.8],
            "severity_weight": [1.2, 1.2, 1.0, 1.0],
        }
    )
    view = _view(results)
    settings = view.settings
    g1 = results[results["subgroup_value"] == "G1"]
    subgroup_icer = icer_table(["a", "b"], g1["costs"], g1["qalys"], settings.willingness_to_pay, "b")
    view.icer = pd.concat(
        [view.icer.assign(subgroup="all", subgroup_value="all"), subgroup_icer.assign(subgroup="grade", subgroup_value="G1")]
    )
    html = economics_section(view)
    categories = _section(html, "he-costs-by-category")
    assert "drugs, GBP" in categories and "procedures, GBP" in categories
    assert "20,000 (66.7%)" in categories and "7,500 (75.0%)" in categories  # a's drugs, b's procedures: share of the total
    severity = _section(html, "he-severity")
    assert "12.50" in severity and "86.0%" in severity and "1.20" in severity
    subgroups = _section(html, "he-subgroups")
    assert "<td>grade</td>" in subgroups and "<td>G1</td>" in subgroups and "25,000" in subgroups
    assert "<td>16,000</td>" in subgroups  # a's ICER in G1: (25,000 - 9,000) / (3.5 - 2.5)
    # The whole cohort's rows alone make the base case and the incremental analysis.
    assert "25,000" not in _section(html, "he-base-case")
    assert "ICER GBP 20,000 per QALY against b" in html  # (30,000 - 10,000) / (3 - 2)


# ------------------------------------------------------------------------------ exports


@pytest.mark.slow
def test_bcea_dampack_matrices_read_back_to_psa_csv(psa_folder):
    long = read_csv(psa_folder / "psa.csv")
    strategies = pd.read_csv(psa_folder / "psa_strategies.csv")
    manifest = json.loads((psa_folder / "manifest.json").read_text(encoding="utf-8"))
    assert list(strategies["strategy"]) == manifest["strategies"] == STRATEGIES
    assert list(strategies["column"]) == [1, 2, 3]
    assert strategies.loc[strategies["comparator"] == 1, "strategy"].tolist() == [manifest["comparator"]]
    for file, column in (("psa_costs.csv", "costs"), ("psa_effects.csv", "qalys")):
        wide = pd.read_csv(psa_folder / file)
        assert list(wide.columns) == ["draw", *STRATEGIES]
        assert list(wide["draw"]) == [1, 2, 3]
        for strategy in STRATEGIES:
            expected = long[long["strategy"] == strategy].set_index("draw")[column]
            assert wide.set_index("draw")[strategy].equals(expected), f"{file}: {strategy}"
    parameters = read_csv(psa_folder / "psa_parameters.csv")
    assert list(parameters["draw"]) == [1, 2, 3] and parameters.shape[1] > 10


@pytest.mark.slow
def test_workbook_reads_back_to_the_folder_tables(psa_folder):
    sheets = pd.read_excel(psa_folder / WORKBOOK, sheet_name=None)
    present = [name for name in WORKBOOK_TABLES if (psa_folder / name).exists()]
    assert {"psa.csv", "psa_parameters.csv", "psa_summary.csv", "icer.csv", "ceac.csv", "evpi.csv"} <= set(present)
    for name in present:
        sheet = sheets[name.removesuffix(".csv")[:31]]
        pd.testing.assert_frame_equal(sheet, pd.read_csv(psa_folder / name), check_dtype=False, obj=name)


@pytest.mark.slow
def test_workbook_parameters_are_the_library_with_sources(run_outcome, scenario_file):
    folder, _ = run_outcome
    sheet = pd.read_excel(folder / WORKBOOK, sheet_name=PARAMETERS_SHEET).set_index("name")
    params = build_parameter_set()
    rows = {row["name"]: row for row in parameter_rows(scenario_file)}
    assert set(sheet.index) == set(rows)
    for name, row in rows.items():
        value = params.entries[name].value
        if value is not None:
            assert sheet.at[name, "number"] == value, name
        assert sheet.at[name, "source"] == row["source"] and sheet.at[name, "unit"] == row["unit"]
    for name in ("summary.csv", "economics.csv", "icer.csv"):
        sheet = pd.read_excel(folder / WORKBOOK, sheet_name=name.removesuffix(".csv"))
        pd.testing.assert_frame_equal(sheet, pd.read_csv(folder / name), check_dtype=False, obj=name)


# ------------------------------------------------------------------------------ run


@pytest.mark.slow
def test_run_report_and_printed_icers(run_outcome):
    folder, printed = run_outcome
    report = _report(folder)
    icer = read_csv(folder / "icer.csv")
    assert {"he-base-case", "he-incremental", "he-nmb", "cheers", "survival"} <= set(report_sections(report))
    assert len(re.findall(r'<tr id="cheers-\d+">', report)) == CHEERS_ITEMS
    frontier = icer[icer["icer"].notna()]
    for row in frontier.itertuples():
        assert f"{numbers.money(row.icer)} vs {row.reference}" in printed, "run prints each frontier ICER"
    for row in icer.itertuples():
        assert row.strategy in printed.split("ICERs along the efficiency frontier")[1]


@pytest.mark.slow
def test_psa_of_the_baseline_scenario_reports_every_section(tmp_path):
    """Acceptance criterion 3 as written: `nelm-sim psa scenarios/baseline.yaml` (a few draws of a few
    patients) writes a report with the base-case ICER table, the CE plane, CEAC, EVPI, costs by
    category, QALY shortfall and the 28 CHEERS 2022 items."""
    out = tmp_path / "psa"
    _cli(
        [
            "psa",
            str(ROOT / "scenarios" / "baseline.yaml"),
            "--draws",
            "3",
            "--patients",
            "12",
            "--workers",
            "1",
            "--quiet",
            "--out",
            str(out),
        ]
    )
    report = (out / "report.html").read_text(encoding="utf-8")
    for section in ("he-incremental", "he-ce-plane", "he-ceac", "he-evpi", "he-costs-by-category", "he-severity"):
        assert f'id="{section}"' in report, section
    icer = read_csv(out / "icer.csv")
    incremental = report[report.index('id="he-incremental"') : report.index('id="he-nmb"')]
    assert all(f"<td>{name}</td>" in incremental for name in icer["strategy"])
    assert [int(n) for n in re.findall(r'<tr id="cheers-(\d+)">', report)] == list(range(1, 29))
