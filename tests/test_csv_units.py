"""Every number written to a CSV says its unit in its column name (issue 20 item 1): ``median_os_months``,
``costs_gbp``, ``wait_p90_days``, ``time_months``. ``commands/output.py`` appends the unit when a table is
written, by rules on the column's name, so a new column that follows the naming gets its unit without a list
to edit; a numeric column that neither states nor gets a unit must be declared unitless there."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simulator.commands.output import (
    STRATEGY_MATRIX_FILES,
    csv_header,
    csv_text,
    internal_column,
    is_unitless,
    read_csv,
    states_unit,
    write_csv,
)

from .conftest import ROOT

EXPECTED = ROOT / "tests" / "regression" / "expected"
# events.csv is the stored copy of events.parquet (tests/regression/cases.py), not a CSV that nelm-sim writes.
WRITTEN = sorted(path for path in EXPECTED.rglob("*.csv") if path.name != "events.csv")
PACKAGED = [ROOT / "simulator" / "params" / "calibration_report.csv"]


def test_every_command_writes_a_csv_checked_here():
    cases = {path.relative_to(EXPECTED).parts[0] for path in WRITTEN}
    assert {"run", "run-summary", "compare", "psa", "dsa", "run-capacity", "scenarios", "capacity", "calibrate-check"} <= cases


@pytest.mark.parametrize("path", WRITTEN + PACKAGED, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_every_numeric_column_states_its_unit_or_is_declared_unitless(path: Path):
    table = pd.read_csv(path)
    if path.name in STRATEGY_MATRIX_FILES:  # a draw, then one column per strategy named in psa_strategies.csv
        strategies = pd.read_csv(path.with_name("psa_strategies.csv"))["strategy"].tolist()
        assert list(table.columns) == ["draw", *strategies]
        return
    missing = [
        column
        for column in table.columns
        if pd.api.types.is_numeric_dtype(table[column]) and not (states_unit(column) or is_unitless(column))
    ]
    assert not missing, (
        f"{path.name}: numeric columns with no unit in their name: {missing}; name the unit (months, days, gbp, share, ...), "
        "add a rule to UNIT_RULES or, for a count, id or flag, add it to UNITLESS (simulator/commands/output.py)"
    )


def test_analysts_headers():
    assert csv_header("median_os_lower_95") == "median_os_lower_95_months"
    assert csv_header("median_os_months") == "median_os_months"
    assert csv_header("costs") == "costs_gbp"
    assert csv_header("wait_p90_days") == "wait_p90_days"
    assert csv_header("icer") == "icer_gbp_per_qaly"
    assert csv_header("os_5y") == "os_5y_probability"
    assert csv_header("utilisation") == "utilisation_share"
    assert csv_header("mean_lines") == "mean_lines"  # a count: no unit
    assert csv_header("probability_cost_effective_20000") == "probability_cost_effective_20000"


def test_new_cost_and_benefit_columns_get_their_unit_by_rule():
    """economics.csv's costs by category or a new net benefit need no list edited."""
    for column in ("costs_drugs", "costs_procedures_lower_95", "costs_end_of_life_undiscounted", "nmb_50000", "incremental_nmb"):
        assert csv_header(column) == f"{column}_gbp"
    assert csv_header("incremental_qalys") == "incremental_qalys"


def test_a_table_read_back_has_the_codes_names_and_values(tmp_path):
    frame = pd.DataFrame(
        {"strategy": ["a"], "median_os_months": [40.5], "median_os_lower_95": [30.25], "costs": [12345.5], "os_5y": [0.4], "n_tace": [2]}
    )
    path = tmp_path / "t.csv"
    write_csv(frame, path)
    assert pd.read_csv(path).columns.tolist() == [
        "strategy",
        "median_os_months",
        "median_os_lower_95_months",
        "costs_gbp",
        "os_5y_probability",
        "n_tace",
    ]
    pd.testing.assert_frame_equal(read_csv(path), frame)


def test_a_header_that_would_read_back_as_another_column_is_refused():
    """A column named like another column's header (costs and costs_gbp) would make two columns one."""
    with pytest.raises(AssertionError, match="repeat|reads back"):
        csv_text(pd.DataFrame({"costs": [1.0], "costs_gbp": [2.0]}))
    assert internal_column("costs_gbp") == "costs"


def test_money_is_in_the_scenarios_currency_and_reads_back_whatever_it_is():
    assert csv_header("costs", "EUR") == "costs_eur"
    assert csv_header("icer", "EUR") == "icer_eur_per_qaly"
    assert csv_header("cost_drugs_lower_95", "USD") == "cost_drugs_lower_95_usd"
    assert csv_header("costs_eur", "EUR") == "costs_eur"  # already says it
    for header, column in (("costs_eur", "costs"), ("icer_usd_per_qaly", "icer"), ("inb_30000_gbp", "inb_30000"), ("n_tae", "n_tae")):
        assert internal_column(header) == column


def test_new_economics_columns_have_their_units():
    """The reference case's columns (costs by category, QALY shortfall, severity) and the scenario analysis's
    net benefit."""
    assert csv_header("cost_drugs") == "cost_drugs_gbp"
    assert csv_header("qaly_shortfall_absolute") == "qaly_shortfall_absolute_qalys"
    assert csv_header("qaly_shortfall_proportional") == "qaly_shortfall_proportional_share"
    assert csv_header("inb_20000_lower_95") == "inb_20000_lower_95_gbp"
    assert csv_header("qalys_vs_base") == "qalys_vs_base"
