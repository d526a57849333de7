"""Capacity planning figures: queues and waits per resource, the planner section of report.html and the
capacity curve of `nelm-sim capacity` (README "Capacity planning")."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from . import numbers
from .html_report import figure_html, table_html
from .style import plt, save, strategy_colours

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.capacity_search import CapacityAnswer

SUMMARY_COLUMNS = [
    "capacity",
    "utilisation",
    "overrun_hours_per_year",
    "mean_queue",
    "max_queue",
    "max_in_use",
    "wait_mean_days",
    "wait_p50_days",
    "wait_p90_days",
    "wait_p95_days",
    "procedures_per_year",
    "bed_days_per_year",
]
PATIENT_FLAGS = ("progressed_while_waiting", "treatment_changed_by_waiting", "died_while_waiting")


# How the planner's table shows each column (reporting/numbers.py), and its heading.
SUMMARY_KINDS = {
    "capacity": "count",
    "utilisation": "percent",
    "overrun_hours_per_year": "hours",
    "mean_queue": "rate",
    "max_queue": "count",
    "max_in_use": "count",
    "wait_mean_days": "days",
    "wait_p50_days": "days",
    "wait_p90_days": "days",
    "wait_p95_days": "days",
    "procedures_per_year": "rate",
    "bed_days_per_year": "rate",
}
SUMMARY_HEADINGS = {
    "utilisation": "utilisation of open time",
    "overrun_hours_per_year": "overrun, hours a year",
    "mean_queue": "mean queue",
    "max_queue": "longest queue",
    "max_in_use": "most in use",
    "wait_mean_days": "mean wait, days",
    "wait_p50_days": "median wait, days",
    "wait_p90_days": "90th-percentile wait, days",
    "wait_p95_days": "95th-percentile wait, days",
    "procedures_per_year": "procedures a year",
    "bed_days_per_year": "bed-days a year",
}
MAXIMA = ("max_queue", "max_in_use")  # the largest of any replication: a whole number


def resource_summary(resources: pd.DataFrame) -> pd.DataFrame:
    """Per strategy and resource: means over replications; the maxima (longest queue, most in use) are
    the largest of any replication."""
    grouped = resources.groupby(["strategy", "resource"], sort=False)
    means = grouped[[c for c in SUMMARY_COLUMNS if c not in MAXIMA]].mean()
    maxima = grouped[list(MAXIMA)].max()
    return means.join(maxima)[SUMMARY_COLUMNS].reset_index()


def used_resources(resources: pd.DataFrame) -> list[str]:
    """The resources some strategy used at all (a request served or queued); an unused one has no
    queue or wait to draw."""
    summary = resource_summary(resources)
    used = summary[(summary["max_in_use"] > 0) | (summary["max_queue"] > 0) | (summary["procedures_per_year"] > 0)]
    return list(dict.fromkeys(used["resource"]))


def resource_table(resources: pd.DataFrame) -> pd.DataFrame:
    """The planner's table for reading (report and page)."""
    return numbers.format_columns(resource_summary(resources), SUMMARY_KINDS, SUMMARY_HEADINGS)


def capacity_figures(capacity, strategies: list[str], folder: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    colours = strategy_colours(strategies)
    queues = capacity.frame("queues")
    used = used_resources(capacity.frame("resources"))
    names = [name for name in dict.fromkeys(queues["resource"]) if name in used]  # an unused resource: no all-zero panel
    if names:
        fig, axes = plt.subplots(len(names), 1, figsize=(9, 2.2 * len(names)), sharex=True, squeeze=False)
        for axis, name in zip(axes[:, 0], names):
            part = queues[queues["resource"] == name]
            for strategy in strategies:
                curve = part[part["strategy"] == strategy].groupby("month")["queue"].mean()
                axis.plot(curve.index, curve.to_numpy(), color=colours[strategy], label=strategy, lw=1.2)
            start = part.loc[part["in_window"], "month"].min()
            if start and start > 0:
                axis.axvspan(0, start, color="#eee", lw=0)
            axis.set_ylabel(f"{name}\nqueue")
        axes[0, 0].legend(fontsize=8, loc="upper left")
        axes[-1, 0].set_xlabel("calendar month (grey: warm-up, left out of the statistics)")
        fig.suptitle("Queue length over time (monthly mean, replications averaged)")
        fig.tight_layout()
        out.append(
            (
                save(fig, folder / "queue_lengths.png"),
                "Mean number of patients queued for each resource, month by month (mean over replications).",
            )
        )
    waits = capacity.frame("waits")
    served = waits[waits["outcome"] == "served"]
    names = list(dict.fromkeys(served["resource"]))
    if names:
        fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names), 3.2), squeeze=False)
        for axis, name in zip(axes[0], names):
            part = served[served["resource"] == name]
            for strategy in strategies:
                days = np.sort(part.loc[part["strategy"] == strategy, "wait_days"].to_numpy(dtype=float))
                if len(days):
                    axis.step(days, np.arange(1, len(days) + 1) / len(days), where="post", color=colours[strategy], label=strategy)
            axis.axhline(0.9, color="#999", lw=0.8, ls=":")
            axis.set_title(name, fontsize=9)
            axis.set_xlabel("wait (days)")
        axes[0, 0].set_ylabel("share waiting at most")
        axes[0, 0].legend(fontsize=7, loc="lower right")
        fig.tight_layout()
        out.append(
            (
                save(fig, folder / "wait_distribution.png"),
                "Distribution of waits per resource (served requests; the dotted line marks the 90th percentile).",
            )
        )
    return out


def planner_section(capacity, patients: pd.DataFrame, strategies: list[str], figures: list[tuple[Path, str]]) -> str:
    """The "Capacity and waiting" section of report.html."""
    parts = [
        "<h2>Capacity and waiting (for planners)</h2>",
        '<p class="note">Shared hospital resources with queues (README "Capacity planning"). Priority: a treatment under way '
        "(later sessions, cycles, repeat injections) before new decisions and treatments; first come, first served within a "
        "priority. While a patient waits for an MDT slot or a first treatment the disease clock runs: progression, loss of "
        "resectability and death can come first. Statistics cover the window after the warm-up; means over replications. "
        "Utilisation is the share of the scheduled hours' capacity in use (at most 1); work started in a session that runs "
        "on after it closes is counted apart as overrun hours a year.</p>",
    ]
    resources = capacity.frame("resources")
    parts.append(table_html(resource_summary(resources), SUMMARY_KINDS, SUMMARY_HEADINGS))
    unused = sorted(set(resources["resource"]) - set(used_resources(resources)))
    if unused:
        parts.append(
            f'<p class="note">Not used by any strategy in this run, so left out of the figures: {html.escape(", ".join(unused))}.</p>'
        )
    rows = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy]
        row = {"strategy": strategy, "patients": len(group)}
        for flag in PATIENT_FLAGS:
            if flag in group:
                words = flag.replace("_", " ")
                row[f"{words} (n)"] = int(group[flag].sum())
                row[f"{words} (%)"] = float(group[flag].mean()) if len(group) else float("nan")
        rows.append(row)
    parts.append("<h3>Patients whose course changed because of waiting</h3>")
    parts.append(
        '<p class="note">All replications. "Treatment changed": the patient progressed while queued and was no longer eligible '
        "for the chosen treatment (for example, disease no longer resectable), so the MDT chose again.</p>"
    )
    flags = pd.DataFrame(rows)
    kinds = {
        column: ("count" if column.endswith("(n)") or column == "patients" else "percent")
        for column in flags.columns
        if column != "strategy"
    }
    parts.append(table_html(flags, kinds))
    for path, caption in figures:
        parts.append(figure_html(path, caption))
    return "\n".join(parts)


def curve_figure(answer: CapacityAnswer, path: Path, title: str) -> Path:
    curve = answer.curve
    x = answer.varied_column
    label = f"{answer.resource} capacity" if x == "capacity" else f"{answer.resource} sessions a week"
    strategies = list(dict.fromkeys(curve["strategy"]))
    colours = strategy_colours(strategies)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for strategy in strategies:
        part = curve[curve["strategy"] == strategy]
        left.plot(part[x], part["p90_wait_days"], marker="o", color=colours[strategy], label=strategy)
        right.errorbar(
            part[x].to_numpy(dtype=float),
            100 * part["os_5y"].to_numpy(dtype=float),
            yerr=[
                100 * (part["os_5y"] - part["os_5y_lower_95"]).fillna(0).to_numpy(dtype=float),
                100 * (part["os_5y_upper_95"] - part["os_5y"]).fillna(0).to_numpy(dtype=float),
            ],
            marker="o",
            color=colours[strategy],
            capsize=3,
            label=strategy,
        )
    left.axhline(answer.target_days, color="#c00", ls="--", lw=1, label=f"target {answer.target_days:g} days")
    if answer.answer is not None:
        for axis in (left, right):
            axis.axvline(answer.answer, color="#999", ls=":", lw=1)
    for axis in (left, right):
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_xlabel(label)
    left.set_ylabel("90th-percentile wait (days)")
    right.set_xlabel(label)
    right.set_ylabel("5-year overall survival (%)")
    left.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
