"""One presentation layer for numbers (issue 20 item 1, acceptance 2): every human-facing number of the
commands, the report and the page goes through ``simulator/reporting/numbers.py``.

The check reads the code of the output paths (the command line's printing, the commands, reporting, the
page) and finds ad hoc number formats: a format spec with a precision, a thousands separator, a
percentage or an exponent (``f"{x:.2f}"``, ``f"{x:,}"``, ``f"{x:.1%}"``), a printf-style float format
(``"%.1f"``), ``float_format=`` and ``round(``. A bare ``:g`` (a value the user wrote, shown as written)
and integer padding (``:02d``) are allowed. The few formats that are not for reading a result are listed
in ``ALLOWED`` with their reason, and each listed one must still exist.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from simulator.reporting import numbers
from simulator.reporting.tables import cost_effectiveness_table, headline_table, metric_table

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "simulator"
OUTPUT_PATHS = [
    PACKAGE / "cli.py",
    *sorted((PACKAGE / "commands").glob("*.py")),
    *sorted((PACKAGE / "reporting").glob("*.py")),
    *sorted((PACKAGE / "app").glob("*.py")),
]
NOT_CHECKED = {
    "reporting/numbers.py": "the formatter itself",
    "reporting/seed_figures.py": "the seed review's figures (calibration, issue 19), outside this layer's rules for now",
    "commands/calibrate.py": "writes calibrated.yaml (rounded parameter values), no table for reading",
    "commands/reproduce.py": "report.md of the seed figures (calibration), outside this layer's rules for now",
}
# (file, text of the line) -> why it is not a number for reading.
ALLOWED = {
    ("app/page.py", 'return f"%.{decimals}f"'): "a slider's display format handed to Streamlit, not a result",
    ("app/capacity.py", "int(round(value))"): "a whole number of theatres from a slider's float, not display",
    ("commands/run.py", "round(scenario.horizon_months / SUMMARY_GRID_MONTHS)"): "the number of grid steps, not display",
    ("commands/output.py", '"wall_time_seconds": round(wall_seconds, 3)'): "manifest.json, a machine-readable record",
    ("commands/output.py", 'CSV_FLOAT_FORMAT = "%.10g"'): "CSV files keep full precision",
    ("commands/output.py", 'CALIBRATION_FLOAT_FORMAT = "%.6g"'): "calibration CSV files",
    ("app/settings.py", 'return float(f"{value:.10g}")'): "a slider's value cleaned of float noise, not display",
    (
        "commands/output.py",
        "def csv_text(frame: pd.DataFrame, float_format: str = CSV_FLOAT_FORMAT, currency",
    ): "CSV files keep full precision",
    ("commands/output.py", "return frame.to_csv(index=False, float_format=float_format, header=csv_headers("): "CSV",
    ("commands/output.py", "def write_csv(frame: pd.DataFrame, path: Path, float_format: str = CSV_FLOAT_FORMAT, currency"): "CSV",
    ("reporting/progress.py", 'return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"'): "a clock, m:ss",
    ("reporting/progress.py", "whole = int(round(seconds))"): "a clock's whole seconds",
    ("reporting/progress.py", "filled = int(round(BAR_WIDTH * fraction))"): "the progress bar's width in characters",
    ("reporting/variant_figures.py", "picks = sorted({round(k * (len(items) - 1) / (limit - 1)) for k in range(limit)})"): "panel indices",
}
PRINTF_FLOAT = re.compile(r"(?<!%)%[-+ 0#,]*\d*(\.\d+[eEfFgG]|[eEfF])")  # "%.1f", "%f"; not "%%", "%g"


def _ad_hoc_spec(spec: str) -> bool:
    """A format spec that fixes how a number reads: precision, thousands separator, %, exponent."""
    return bool(re.search(r"\.\d|[,_]|[%eE]$|[fF]$", spec))


def _spec_text(node: ast.JoinedStr) -> str:
    return "".join(part.value for part in node.values if isinstance(part, ast.Constant) and isinstance(part.value, str))


def findings(path: Path) -> list[tuple[str, int, str]]:
    """(file, line, source line) of every ad hoc number format in one file."""
    relative = path.relative_to(PACKAGE).as_posix()
    lines = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        hit = False
        if isinstance(node, ast.FormattedValue) and isinstance(node.format_spec, ast.JoinedStr):
            hit = _ad_hoc_spec(_spec_text(node.format_spec))
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            hit = name == "round" or any(k.arg == "float_format" for k in node.keywords)
            if name == "format" and node.args and isinstance(node.args[-1], ast.Constant) and isinstance(node.args[-1].value, str):
                hit = hit or _ad_hoc_spec(node.args[-1].value)  # format(x, ".2f")
            if isinstance(node.func, ast.Attribute) and node.func.attr == "format" and isinstance(node.func.value, ast.Constant):
                hit = hit or any(_ad_hoc_spec(s) for s in re.findall(r"\{[^{}]*:([^{}]*)\}", str(node.func.value.value)))
        elif isinstance(node, ast.arg) and node.arg == "float_format":
            hit = True
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            hit = bool(PRINTF_FLOAT.search(node.value))
        if hit:
            found.add((relative, node.lineno, lines[node.lineno - 1].strip()))
    return sorted(found)


def _allowed(finding: tuple[str, int, str]) -> bool:
    relative, _, line = finding
    return any(relative == file and text in line for file, text in ALLOWED)


def test_every_output_path_formats_numbers_with_the_one_formatter():
    found = []
    for path in OUTPUT_PATHS:
        if path.relative_to(PACKAGE).as_posix() in NOT_CHECKED:
            continue
        found += [f for f in findings(path) if not _allowed(f)]
    assert not found, "ad hoc number formats (use simulator/reporting/numbers.py):\n" + "\n".join(f"{f}:{n}: {t}" for f, n, t in found)


def test_every_allowed_format_is_still_there():
    lines = {(p.relative_to(PACKAGE).as_posix(), line) for p in OUTPUT_PATHS for line in p.read_text(encoding="utf-8").splitlines()}
    gone = [entry for entry in ALLOWED if not any(file == entry[0] and entry[1] in line for file, line in lines)]
    assert not gone, f"delete from ALLOWED, the line is gone: {gone}"


def test_the_check_finds_what_it_looks_for(tmp_path, monkeypatch):
    planted = PACKAGE / "reporting" / "_planted_for_test.py"
    planted.write_text(
        "def f(x, table):\n"
        '    a = f"{x:.2f}"\n'
        '    b = f"{x:,}"\n'
        '    c = "%.1f" % x\n'
        "    d = round(x, 1)\n"
        '    e = table.to_string(float_format="{:.3f}".format)\n'
        '    g = f"{x:g} and {x:02d}"\n'
        '    h = format(x, ".1%")\n',
        encoding="utf-8",
    )
    try:
        lines = [line for _, line, _ in findings(planted)]
    finally:
        planted.unlink()
    assert lines == [2, 3, 4, 5, 6, 8]


@pytest.mark.parametrize(
    "value, kind, text",
    [
        (0.3781, "percent", "37.8%"),
        (17880.4, "money", "17,880"),
        (-1234.6, "money", "-1,235"),
        (26.05, "months", "26.1"),
        (0.7234, "ratio", "0.72"),
        (1500.0, "count", "1,500"),
        (1.0, "count", "1"),
        (1.8333, "rate", "1.83"),
        (0.052341, "value", "0.05234"),
        (17876.0, "value", "17,876"),
        (1552.4, "value", "1,552"),
        (999.94, "value", "999.9"),
        (math.nan, "months", "n/a"),
        (None, "percent", "n/a"),
        (-0.01, "months", "0.0"),
    ],
)
def test_the_rules(value, kind, text):
    assert numbers.number(value, kind) == text


def test_intervals_differences_and_unknown_kinds():
    assert numbers.interval(0.378, 0.351, 0.402, "percent") == "37.8% [35.1%, 40.2%]"
    assert numbers.interval(26.05, math.nan, math.nan, "months") == "26.1"
    assert numbers.signed(0.012, "percent") == "+1.2 pp" and numbers.signed(-2.0, "months") == "-2.0"
    with pytest.raises(ValueError, match="unknown kind"):
        numbers.number(1.0, "furlongs")


def _summary() -> pd.DataFrame:
    rows = []
    for strategy, hr, os5 in (("a", 1.0, 0.4), ("b", 0.72, 0.5)):
        for metric, unit, estimate, lower, upper in (
            ("median_os_months", "months", 26.05, 24.0, 28.31),
            ("os_5y", "share", os5, os5 - 0.05, os5 + 0.05),
            ("rmst_os_months", "months", 40.0, 38.0, 42.0),
            ("hr_os_vs_comparator", "ratio", hr, hr * 0.9 if strategy == "b" else 1.0, hr * 1.1 if strategy == "b" else 1.0),
            (
                "life_years_gained",
                "years",
                0.0 if strategy == "a" else 1.25,
                0.0 if strategy == "a" else 1.0,
                0.0 if strategy == "a" else 1.5,
            ),
            ("mean_lines", "count", 1.8333, 1.7, 1.9),
        ):
            rows.append(
                {
                    "strategy": strategy,
                    "metric": metric,
                    "label": metric,
                    "unit": unit,
                    "estimate": estimate,
                    "lower_95": lower,
                    "upper_95": upper,
                }
            )
    return pd.DataFrame(rows)


def test_tables_use_the_rules_and_the_comparator_is_the_reference():
    summary = _summary()
    headline = headline_table(summary, ["a", "b"], "a").set_index("strategy")
    assert headline.at["a", "HR vs a"] == "reference"
    assert headline.at["b", "HR vs a"] == "0.72 [0.65, 0.79]"
    assert headline.at["b", "5-y OS"] == "50.0% [45.0%, 55.0%]"
    assert headline.at["a", "median OS, months [95% CI]"] == "26.1 [24.0, 28.3]"
    table = metric_table(summary, ["a", "b"], ["hr_os_vs_comparator", "life_years_gained", "mean_lines", "os_5y"], "a").set_index("metric")
    assert table.at["hr_os_vs_comparator", "a"] == "reference" and table.at["life_years_gained", "a"] == "reference"
    assert table.at["life_years_gained", "b"] == "1.25 [1.00, 1.50]"
    assert table.at["mean_lines", "b"] == "1.83 [1.70, 1.90]" and table.at["os_5y", "unit"] == "%"
    assert "1.00 [1.00, 1.00]" not in table.to_string() + headline.to_string()


def test_cost_effectiveness_table_reads_as_money_qalys_and_percentages():
    class Economics:
        currency = "GBP"
        willingness_to_pay = (20000.0,)

    summary = pd.DataFrame(
        [{"strategy": "a", "costs": 17880.4, "costs_lower_95": 15000.2, "costs_upper_95": 21000.9, "qalys": 3.4123,
          "qalys_lower_95": 3.0, "qalys_upper_95": 3.9, "probability_cost_effective_20000": 0.625}]
    )  # fmt: skip
    icer = pd.DataFrame(
        [{"strategy": "a", "status": "frontier", "dominated_by": "", "icer": math.nan, "comparator": "a", "inmb_20000": 0.0}]
    )
    row = cost_effectiveness_table(summary, icer, Economics()).iloc[0]
    assert row["costs, GBP [95% interval]"] == "17,880 [15,000, 21,001]"
    assert row["QALYs [95% interval]"] == "3.41 [3.00, 3.90]"
    assert row["P(cost-effective) at 20,000"] == "62.5%" and row["ICER, GBP per QALY"] == ""
