"""Result tables as formatted text (terminal and report). No matplotlib here: the CLI imports it."""

from __future__ import annotations

import math

import pandas as pd

HEADLINE_LANDMARK_YEARS = 5


def _number(value: float, digits: int) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def with_ci(estimate: float, lower: float, upper: float, digits: int = 1) -> str:
    text = _number(estimate, digits)
    if text != "n/a" and not (math.isnan(lower) or math.isnan(upper)):
        text += f" [{lower:.{digits}f}, {upper:.{digits}f}]"
    return text


def _lookup(summary: pd.DataFrame, strategy: str, metric: str) -> tuple[float, float, float]:
    row = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric)]
    if row.empty:
        return math.nan, math.nan, math.nan
    first = row.iloc[0]
    return float(first["estimate"]), float(first["lower_95"]), float(first["upper_95"])


def headline_table(summary: pd.DataFrame, strategies: list[str], comparator: str) -> pd.DataFrame:
    """Strategy, median OS [CI], 5-y OS, RMST, HR vs comparator [CI], months uncontrolled."""
    rows = []
    for strategy in strategies:
        landmark = _lookup(summary, strategy, f"os_{HEADLINE_LANDMARK_YEARS}y")
        hr = _lookup(summary, strategy, "hr_os_vs_comparator")
        rows.append(
            {
                "strategy": strategy,
                "median OS, months [95% CI]": with_ci(*_lookup(summary, strategy, "median_os_months")),
                f"{HEADLINE_LANDMARK_YEARS}-y OS %": with_ci(*(100 * v for v in landmark), digits=1),
                "RMST, months": with_ci(*_lookup(summary, strategy, "rmst_os_months")),
                f"HR vs {comparator}": "reference" if strategy == comparator else with_ci(*hr, digits=2),
                "months uncontrolled": with_ci(*_lookup(summary, strategy, "mean_months_uncontrolled")),
            }
        )
    return pd.DataFrame(rows)


def metric_table(summary: pd.DataFrame, strategies: list[str], metrics: list[str]) -> pd.DataFrame:
    """Metrics as rows, strategies as columns, each cell 'estimate [lower, upper]'."""
    rows = []
    for metric in metrics:
        part = summary[summary["metric"] == metric]
        if part.empty:
            continue
        first = part.iloc[0]
        digits = 2 if first["unit"] in ("share", "ratio", "count") else 1
        row = {"metric": first["label"], "unit": first["unit"]}
        for strategy in strategies:
            row[strategy] = with_ci(*_lookup(summary, strategy, metric), digits=digits)
        rows.append(row)
    return pd.DataFrame(rows)
