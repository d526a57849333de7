"""Result tables as formatted text (terminal, report and page). No matplotlib here: the CLI imports it.
Every number goes through ``reporting.numbers``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from . import numbers
from .numbers import REFERENCE

if TYPE_CHECKING:  # pragma: no cover
    from ..economics.settings import EconomicSettings

HEADLINE_LANDMARK_YEARS = 5
# Metrics measured against the comparator: its own row is the reference, not an estimate.
COMPARATOR_METRICS = ("hr_os_vs_comparator", "life_years_gained")


def with_ci(estimate: float, lower: float, upper: float, kind: str) -> str:
    return numbers.interval(estimate, lower, upper, kind)


def _lookup(summary: pd.DataFrame, strategy: str, metric: str) -> tuple[float, float, float]:
    row = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric)]
    if row.empty:
        return math.nan, math.nan, math.nan
    first = row.iloc[0]
    return float(first["estimate"]), float(first["lower_95"]), float(first["upper_95"])


def metric_cell(summary: pd.DataFrame, strategy: str, metric: str, unit: str, comparator: str | None) -> str:
    """One metric of one strategy, 'estimate [lower, upper]' in its unit's format; the comparator's own
    hazard ratio and life-years gained are "reference"."""
    if comparator is not None and strategy == comparator and metric in COMPARATOR_METRICS:
        return REFERENCE
    return with_ci(*_lookup(summary, strategy, metric), numbers.kind_of_unit(unit))


def headline_table(summary: pd.DataFrame, strategies: list[str], comparator: str) -> pd.DataFrame:
    """Strategy, median OS [CI], 5-y OS, RMST, HR vs comparator [CI], months uncontrolled, share of
    follow-up uncontrolled: means over replications (``compare``)."""
    rows = []
    for strategy in strategies:

        def cell(metric: str, unit: str, strategy: str = strategy) -> str:
            return metric_cell(summary, strategy, metric, unit, comparator)

        rows.append(
            {
                "strategy": strategy,
                "median OS, months [95% CI]": cell("median_os_months", "months"),
                f"{HEADLINE_LANDMARK_YEARS}-y OS": cell(f"os_{HEADLINE_LANDMARK_YEARS}y", "share"),
                "RMST, months": cell("rmst_os_months", "months"),
                f"HR vs {comparator}": cell("hr_os_vs_comparator", "ratio"),
                "months uncontrolled": cell("mean_months_uncontrolled", "months"),
                "share of follow-up uncontrolled": cell("uncontrolled_share_of_life", "share"),
            }
        )
    return pd.DataFrame(rows)


def metric_table(summary: pd.DataFrame, strategies: list[str], metrics: list[str], comparator: str | None = None) -> pd.DataFrame:
    """Metrics as rows, strategies as columns, each cell 'estimate [lower, upper]' in its unit's format
    (shares as percentages); the comparator's own comparison rows say "reference"."""
    rows = []
    for metric in metrics:
        part = summary[summary["metric"] == metric]
        if part.empty:
            continue
        first = part.iloc[0]
        unit = str(first["unit"])
        row = {"metric": first["label"], "unit": "%" if unit == "share" else ("per patient" if unit == "count" else unit)}
        for strategy in strategies:
            row[strategy] = metric_cell(summary, strategy, metric, unit, comparator)
        rows.append(row)
    return pd.DataFrame(rows)


def without_reference_rows(rows: pd.DataFrame, comparator: str) -> pd.DataFrame:
    """Rows (strategy, metric, ...) without the comparator's own comparison against itself."""
    own = (rows["strategy"] == comparator) & rows["metric"].isin(COMPARATOR_METRICS)
    return rows[~own].reset_index(drop=True)


def cost_effectiveness_table(summary: pd.DataFrame, icer: pd.DataFrame, economics: EconomicSettings) -> pd.DataFrame:
    """The PSA's psa_summary.csv and icer.csv in one table for reading: per strategy (in the
    scenario's order) mean costs and QALYs with the 95% interval of the draws, the probability of
    being cost-effective and the incremental net monetary benefit at each willingness to pay, and the
    strategy's place in the incremental analysis."""
    currency = economics.currency
    incremental = icer.set_index("strategy")
    rows = []
    for row in summary.itertuples(index=False):
        strategy = row.strategy
        line = {
            "strategy": strategy,
            f"costs, {currency} [95% interval]": numbers.interval(row.costs, row.costs_lower_95, row.costs_upper_95, "money"),
            "QALYs [95% interval]": numbers.interval(row.qalys, row.qalys_lower_95, row.qalys_upper_95, "qalys"),
        }
        status = incremental.at[strategy, "status"]
        line["incremental analysis"] = status.replace("_", " ") + (
            f" (by {incremental.at[strategy, 'dominated_by']})" if status != "frontier" else ""
        )
        icer_value = incremental.at[strategy, "icer"]
        line[f"ICER, {currency} per QALY"] = "" if pd.isna(icer_value) else numbers.money(icer_value)
        for wtp in economics.willingness_to_pay:
            line[f"P(cost-effective) at {numbers.money(wtp)}"] = numbers.percent(getattr(row, f"probability_cost_effective_{wtp:g}"))
            inmb = incremental.at[strategy, f"inmb_{wtp:g}"]
            line[f"INMB vs {incremental.at[strategy, 'comparator']} at {numbers.money(wtp)}"] = "" if pd.isna(inmb) else numbers.money(inmb)
        rows.append(line)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# What the commands print on the terminal (cli.py): the same formatter as the report and the page.

RUN_KINDS = {
    "n": "count",
    "median_os_months": "months",
    "os_5y": "percent",
    "median_pfs1_months": "months",
    "mean_months_uncontrolled": "months",
    "uncontrolled_share_of_life": "percent",
}
RUN_HEADINGS = {
    "n": "patients",
    "median_os_months": "median OS, months [95% CI]",
    "os_5y": "5-y OS",
    "median_pfs1_months": "median PFS line 1, months",
    "mean_months_uncontrolled": "months uncontrolled",
    "uncontrolled_share_of_life": "share of follow-up uncontrolled",
}
RUN_NOTE = (
    "Kaplan-Meier estimates and means of all replications' patients pooled (summary.csv); "
    "`compare` shows the mean of each replication's own estimate, with its spread across replications."
)


COMPARE_NOTE = (
    "Means over replications of each replication's own estimate, with t-based 95% CIs of the Monte Carlo error; "
    "`run` pools all replications' patients instead."
)


def run_summary_text(summary: pd.DataFrame) -> str:
    """``run``'s headline columns of summary.csv: the pooled estimates (see ``RUN_NOTE``)."""
    columns = ["strategy", *[c for c in RUN_KINDS if c in summary.columns]]
    shown = numbers.format_columns(summary[columns], RUN_KINDS)
    shown["median_os_months"] = [
        numbers.interval(*values, "months")
        for values in zip(summary["median_os_months"], summary["median_os_lower_95"], summary["median_os_upper_95"])
    ]
    return str(shown.rename(columns=RUN_HEADINGS).to_string(index=False))


def _wtp_heading(column: str, prefix: str, words: str) -> str:
    return f"{words} {numbers.money(float(column.removeprefix(prefix)))}"


def psa_summary_text(summary: pd.DataFrame) -> str:
    """``psa``'s mean costs and QALYs and the probability of being cost-effective at each willingness to pay."""
    probabilities = [c for c in summary.columns if c.startswith("probability_cost_effective_")]
    kinds = {"costs": "money", "qalys": "qalys", **dict.fromkeys(probabilities, "percent")}
    names = {"costs": "mean costs", "qalys": "mean QALYs"}
    names.update({c: _wtp_heading(c, "probability_cost_effective_", "P(cost-effective) at") for c in probabilities})
    return numbers.table_text(summary[["strategy", "costs", "qalys", *probabilities]], kinds, names)


def tornado_text(tornado: pd.DataFrame, rows: int = 10) -> str:
    """``dsa``'s largest swings: the parameter's bounds as written, the INMB at each as money."""
    kinds = {"low": "value", "high": "value", "inmb_low": "money", "inmb_high": "money"}
    names = {"low": "low bound", "high": "high bound", "inmb_low": "INMB at low", "inmb_high": "INMB at high"}
    return numbers.table_text(tornado[["parameter", "low", "high", "inmb_low", "inmb_high"]].head(rows), kinds, names)


CAPACITY_CURVE_KINDS = {
    "capacity": "count",
    "p90_wait_days": "days",
    "mean_wait_days": "days",
    "utilisation": "percent",
    "os_5y": "percent",
    "progressed_while_waiting_share": "percent",
}
CAPACITY_CURVE_HEADINGS = {
    "p90_wait_days": "90th-percentile wait, days",
    "mean_wait_days": "mean wait, days",
    "utilisation": "utilisation of open time",
    "os_5y": "5-y OS",
    "progressed_while_waiting_share": "progressed while waiting",
}


SESSION_CURVE_KINDS = {"sessions_per_week": "count", "open_hours_per_week": "hours", **CAPACITY_CURVE_KINDS}
SESSION_CURVE_HEADINGS = {"sessions_per_week": "sessions/week", "open_hours_per_week": "open hours/week", **CAPACITY_CURVE_HEADINGS}


def capacity_curve_text(curve: pd.DataFrame) -> str:
    """``capacity``'s trade-off curve; a sessions search's curve (``sessions_per_week``) leads with the
    sessions and open hours a week, then the same columns."""
    if "sessions_per_week" in curve.columns:
        columns = [
            "sessions_per_week",
            "open_hours_per_week",
            "capacity",
            "strategy",
            *[c for c in CAPACITY_CURVE_KINDS if c != "capacity"],
        ]
        return numbers.table_text(curve[columns], SESSION_CURVE_KINDS, SESSION_CURVE_HEADINGS)
    columns = ["capacity", "strategy", *[c for c in CAPACITY_CURVE_KINDS if c != "capacity"]]
    return numbers.table_text(curve[columns], CAPACITY_CURVE_KINDS, CAPACITY_CURVE_HEADINGS)


def variant_text(table: pd.DataFrame, metric: str, unit: str, variants: list[str], strategies: list[str], comparator: str) -> str:
    """``scenarios``: one metric, variants as rows and strategies as columns, 'estimate [95% CI]'."""
    kind = numbers.kind_of_unit(unit)
    cells = [
        REFERENCE if s == comparator and metric in COMPARATOR_METRICS else numbers.interval(e, lo, hi, kind)
        for s, e, lo, hi in zip(table["strategy"], table["estimate"], table["lower"], table["upper"])
    ]
    wide = table.assign(cell=cells).pivot(index="variant", columns="strategy", values="cell")
    return str(wide.reindex(index=variants, columns=strategies).fillna("-").to_string())


def targets_text(table: pd.DataFrame) -> str:
    """``calibrate`` and ``reproduce``: each published target beside the simulated value and its band."""
    kinds = dict.fromkeys(("published", "simulated", "lower", "upper"), "value")
    return numbers.table_text(table[["target", "published", "simulated", "lower", "upper", "pass"]], kinds)
