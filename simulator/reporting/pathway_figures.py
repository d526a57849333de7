"""What patients go through: symptom control over time, state occupancy, and a swimmer plot."""

from __future__ import annotations

import math

import pandas as pd

from .style import DPI, plt, strategy_colours, time_ticks, treatment_colours

OCCUPANCY_COLOURS = {
    "No evidence of disease": "#2ca02c",
    "Surgery / debulked": "#98df8a",
    "Liver-directed therapy": "#1f77b4",
    "Systemic therapy": "#9467bd",
    "Surveillance": "#bcbd22",
    "Between lines": "#c7c7c7",
    "Best supportive care": "#ff7f0e",
    "Other": "#e377c2",
    "Dead": "#7f7f7f",
}
OCCUPANCY_MIN_WIDTH = 9.0  # inches
MARKERS = {"progression": ("|", "black"), "recurrence": ("|", "black"), "death": ("X", "#d62728"), "censored": (">", "black")}


def symptom_figure(curve: pd.DataFrame, strategies: list[str], horizon: float):
    """Left: share of living functional patients with symptoms controlled. Right: share of all
    functional patients (the dead count as not controlled)."""
    colours = strategy_colours(strategies)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8), dpi=DPI, sharey=True)
    panels = (
        ("controlled_share_of_alive", "Symptoms controlled, share of living functional patients"),
        ("controlled_share_of_all", "Alive with symptoms controlled, share of all functional patients"),
    )
    for ax, (column, ylabel) in zip(axes, panels):
        for strategy in strategies:
            group = curve[curve["strategy"] == strategy]
            ax.plot(group["month"], group[column], label=strategy, color=colours[strategy], linewidth=1.6)
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1.02)
        ax.set_xticks(time_ticks(horizon))
        ax.set_xlabel("Months from the first treatment decision")
        ax.set_ylabel(ylabel, fontsize=9)
        ax.grid(alpha=0.3)
    axes[0].legend(title="Strategy", fontsize=8)
    fig.suptitle("Control of hormonal symptoms (functional tumours)")
    fig.tight_layout()
    return fig


def occupancy_figure(occupancy: pd.DataFrame, strategies: list[str], horizon: float):
    """Stacked area per strategy: share of the cohort in each state group at each month."""
    columns = min(3, len(strategies))
    rows = math.ceil(len(strategies) / columns)
    # At least as wide as the legend's five columns of state names: one strategy alone would clip it.
    width = max(4.3 * columns, OCCUPANCY_MIN_WIDTH)
    fig, axes = plt.subplots(rows, columns, figsize=(width, 3.3 * rows + 0.9), dpi=DPI, sharex=True, sharey=True, squeeze=False)
    groups = [g for g in OCCUPANCY_COLOURS if g in set(occupancy["group"])]
    for ax, strategy in zip(axes.flat, strategies):
        part = (
            occupancy[occupancy["strategy"] == strategy]
            .pivot(index="month", columns="group", values="share")
            .reindex(columns=groups)
            .fillna(0.0)
        )
        ax.stackplot(part.index, [part[g] for g in groups], labels=groups, colors=[OCCUPANCY_COLOURS[g] for g in groups], linewidth=0)
        ax.set_title(strategy, fontsize=10)
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1)
        ax.set_xticks(time_ticks(horizon)[::2])
    for ax in axes.flat[len(strategies) :]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("Months")
    for ax in axes[:, 0]:
        ax.set_ylabel("Share of cohort")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(5, len(labels)), fontsize=8, frameon=False)
    fig.suptitle("Where the cohort is: state occupancy over time")
    fig.tight_layout(rect=(0, 0.07, 1, 0.97))
    return fig


def swimmer_figure(lines: pd.DataFrame, markers: pd.DataFrame, strategy: str, horizon: float, treatments: list[str]):
    """One lane per patient (longest follow-up at the top), coloured by line of therapy."""
    colours = treatment_colours(treatments)
    ends = markers[markers["event"].isin(["death", "censored"])].groupby("patient_id")["time"].max()
    order = ends.sort_values(ascending=False).index.tolist()
    lane = {pid: i for i, pid in enumerate(order)}
    fig, ax = plt.subplots(figsize=(10, 0.22 * max(len(order), 1) + 1.8), dpi=DPI)
    shown: set[str] = set()
    lines = lines[lines["patient_id"].isin(lane)]
    # One barh call per treatment: a call per bar is slow with hundreds of lines.
    for treatment, part in lines.groupby("treatment", sort=False):
        ends = part["end"].fillna(horizon)
        ax.barh(
            part["patient_id"].map(lane),
            ends - part["start"],
            left=part["start"],
            height=0.7,
            color=colours.get(treatment, "#333333"),
            label=treatment,
        )
        shown.add(treatment)
    for event, (marker, colour) in MARKERS.items():
        part = markers[(markers["event"] == event) & markers["patient_id"].isin(lane)]
        if len(part):
            name = "progression / recurrence" if event in ("progression", "recurrence") else event
            ax.scatter(
                part["time"],
                part["patient_id"].map(lane),
                marker=marker,
                color=colour,
                s=28,
                zorder=3,
                label=name if name not in shown else None,
            )
            shown.add(name)
    ax.set_yticks(range(len(order)))
    ax.set_yticklabels([str(pid) for pid in order], fontsize=6)
    ax.set_ylim(len(order) - 0.5, -0.5)
    ax.set_xlim(0, horizon)
    ax.set_xticks(time_ticks(horizon))
    ax.set_xlabel("Months from the first treatment decision")
    ax.set_ylabel("Patient (replication 1)")
    ax.set_title(f"{strategy}: treatment sequences of {len(order)} sample patients")
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.grid(alpha=0.2, axis="x")
    fig.tight_layout()
    return fig
