"""Kaplan-Meier curves with an at-risk table, and the forest plot of hazard ratios."""

from __future__ import annotations

import math

import pandas as pd
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

from . import numbers
from .style import DPI, plt, strategy_colours, time_ticks

# Points: readable when the page shows the figure 700 px wide (about 10 px; tests/test_edge_figures.py).
AT_RISK_FONTSIZE = 9
AT_RISK_LABEL_PAD = 22  # points between the strategy names and the axis
FIGURE_EDGE_POINTS = 4  # points kept free at the figure's left edge
MIN_LEFT_MARGIN = 0.22  # share of the figure's width
MAX_HR_TICKS = 8
HR_TICKS = (0.1, 0.2, 0.3, 0.5, 0.67, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


def km_figure(
    curves: pd.DataFrame, at_risk: pd.DataFrame, strategies: list[str], title: str, ylabel: str, horizon: float, width: float = 9.0
):
    """KM step curves with 95% bands (``survival_table`` columns) over an at-risk table.

    ``at_risk``: one row per strategy, one column per time shown (the numbers still followed). ``width``
    (inches): narrower for a narrow place on a page, so that its text is not scaled down there."""
    colours = strategy_colours(strategies)
    rows = len(strategies)
    fig = plt.figure(figsize=(width, 5.3 + 0.28 * rows), dpi=DPI)
    grid = fig.add_gridspec(2, 1, height_ratios=[5.0, 0.6 + 0.28 * rows], hspace=0.32)
    ax = fig.add_subplot(grid[0])
    for strategy in strategies:
        group = curves[curves["strategy"] == strategy]
        colour = colours[strategy]
        ax.step(group["time_months"], group["survival"], where="post", label=strategy, color=colour, linewidth=1.6)
        ax.fill_between(group["time_months"], group["lower_95"], group["upper_95"], step="post", alpha=0.12, color=colour, linewidth=0)
    ticks = time_ticks(horizon)
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ticks)
    ax.set_ylabel(ylabel)
    ax.set_xlabel("Months from the first treatment decision")
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(title="Strategy", fontsize=8, loc="upper right")

    table = fig.add_subplot(grid[1], sharex=ax)
    table.set_ylim(-0.5, rows - 0.5)
    table.invert_yaxis()
    for row, strategy in enumerate(strategies):
        counts = at_risk.loc[strategy] if strategy in at_risk.index else pd.Series(dtype=float)
        for t in ticks:
            value = counts.get(t, math.nan)
            text = "" if pd.isna(value) else numbers.count(value)
            table.text(t, row, text, ha="center", va="center", fontsize=AT_RISK_FONTSIZE, color=colours[strategy])
    table.set_yticks(range(rows))
    table.set_yticklabels(strategies, fontsize=AT_RISK_FONTSIZE)
    for label, strategy in zip(table.get_yticklabels(), strategies):
        label.set_color(colours[strategy])
    table.tick_params(axis="x", labelbottom=False, length=0)
    table.tick_params(axis="y", length=0, pad=AT_RISK_LABEL_PAD)  # room for the t = 0 column left of the axis
    for side in ("top", "right", "bottom", "left"):
        table.spines[side].set_visible(False)
    table.set_title("Number at risk", fontsize=AT_RISK_FONTSIZE, loc="left")
    # As wide a left margin as the longest strategy name needs: at the page's narrow width, six bundled
    # strategies' names fell off the figure's left edge.
    renderer = fig.canvas.get_renderer()
    widest = max(label.get_window_extent(renderer).width for label in table.get_yticklabels())
    needed = (widest + (AT_RISK_LABEL_PAD + FIGURE_EDGE_POINTS) * fig.dpi / 72) / (fig.get_figwidth() * fig.dpi)
    fig.subplots_adjust(left=max(MIN_LEFT_MARGIN, needed), right=0.96, top=0.94, bottom=0.03)
    return fig


def spaced_ratio_ticks(low: float, high: float) -> list[float]:
    """HR_TICKS inside [low, high], 1 first and then those nearest 1, each at least 1/MAX_HR_TICKS of the
    axis' log width from the others: all of 0.5 ... 2 on a wide axis ran together (0.67 over 0.8)."""
    inside = sorted((t for t in HR_TICKS if low <= t <= high), key=lambda t: abs(math.log(t)))
    gap = math.log(high / low) / MAX_HR_TICKS
    kept: list[float] = []
    for tick in inside:
        if all(abs(math.log(tick / other)) >= gap for other in kept):
            kept.append(tick)
    return sorted(kept) or [1.0]


def forest_figure(hazards: pd.DataFrame, comparator: str, strategies: list[str], replications: int):
    """Hazard ratio of death of each strategy against ``comparator``: point and 95% CI, log scale.

    ``hazards``: strategy, estimate, lower_95, upper_95 (rows of the comparison table)."""
    colours = strategy_colours(strategies)
    rows = hazards.set_index("strategy").reindex([s for s in strategies if s != comparator])
    fig, ax = plt.subplots(figsize=(8.5, 1.2 + 0.55 * max(len(rows), 1)), dpi=DPI)
    for y, (strategy, row) in enumerate(rows.iterrows()):
        colour = colours[strategy]
        if not (pd.isna(row["lower_95"]) or pd.isna(row["upper_95"])):
            ax.plot([row["lower_95"], row["upper_95"]], [y, y], color=colour, linewidth=2)
        ax.plot([row["estimate"]], [y], marker="s", markersize=8, color=colour, linestyle="none", label=strategy)
        text = numbers.interval(row["estimate"], row["lower_95"], row["upper_95"], "ratio")
        ax.annotate(text, xy=(1.01, y), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    ax.axvline(1.0, color="grey", linestyle="--", linewidth=1)
    ax.set_xscale("log")
    # Plain-number ticks: readers of forest plots expect 0.8, 1, 1.25 rather than powers of ten.
    low, high = ax.get_xlim()
    ticks = spaced_ratio_ticks(low, high)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows.index)
    ax.set_ylim(len(rows) - 0.5, -0.5)
    ax.set_xlabel(f"Hazard ratio of death vs {comparator} (log scale; < 1 favours the strategy)")
    ax.set_ylabel("Strategy")
    ax.set_title(f"Hazard ratios (Cox), mean of {replications} replication(s) with t-based 95% CI")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    fig.subplots_adjust(right=0.8)  # room for the estimates printed right of the axes
    return fig
