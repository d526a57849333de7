"""Capacity planning figures: queues and waits per resource, the planner section of report.html and the
capacity curve of `nelm-sim capacity` (README "Capacity planning")."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from .html_report import figure_html
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


def resource_summary(resources: pd.DataFrame) -> pd.DataFrame:
    """Means over replications, per strategy and resource."""
    return resources.groupby(["strategy", "resource"], sort=False)[SUMMARY_COLUMNS].mean().reset_index()


def capacity_figures(capacity, strategies: list[str], folder: Path) -> list[tuple[Path, str]]:
    out: list[tuple[Path, str]] = []
    colours = strategy_colours(strategies)
    queues = capacity.frame("queues")
    names = list(dict.fromkeys(queues["resource"]))
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
    summary = resource_summary(capacity.frame("resources"))
    parts.append(summary.to_html(index=False, escape=True, border=0, na_rep="", float_format="{:.3f}".format))
    rows = []
    for strategy in strategies:
        group = patients[patients["strategy"] == strategy]
        row = {"strategy": strategy, "patients": len(group)}
        for flag in PATIENT_FLAGS:
            if flag in group:
                row[f"{flag} (n)"] = int(group[flag].sum())
                row[f"{flag} (share)"] = float(group[flag].mean()) if len(group) else float("nan")
        rows.append(row)
    parts.append("<h3>Patients whose course changed because of waiting</h3>")
    parts.append(
        '<p class="note">All replications. "Treatment changed": the patient progressed while queued and was no longer eligible '
        "for the chosen treatment (for example, disease no longer resectable), so the MDT chose again.</p>"
    )
    parts.append(pd.DataFrame(rows).to_html(index=False, escape=True, border=0, na_rep="", float_format="{:.3f}".format))
    for path, caption in figures:
        parts.append(figure_html(path, caption))
    return "\n".join(parts)


def curve_figure(answer: CapacityAnswer, path: Path, title: str) -> Path:
    curve = answer.curve
    strategies = list(dict.fromkeys(curve["strategy"]))
    colours = strategy_colours(strategies)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for strategy in strategies:
        part = curve[curve["strategy"] == strategy]
        left.plot(part["capacity"], part["p90_wait_days"], marker="o", color=colours[strategy], label=strategy)
        right.errorbar(
            part["capacity"].to_numpy(dtype=float),
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
    left.set_xlabel(f"{answer.resource} capacity")
    left.set_ylabel("90th-percentile wait (days)")
    right.set_xlabel(f"{answer.resource} capacity")
    right.set_ylabel("5-year overall survival (%)")
    left.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return save(fig, path)
