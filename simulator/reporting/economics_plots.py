"""Health-economics figures (matplotlib, headless): CE plane, CEAC, CEAF, EVPI, convergence, tornado."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import numbers
from .style import DPI, plt, strategy_colours

FIGSIZE = (8, 5)


def _money(value: float, _pos=None) -> str:
    return numbers.money(value)


WTP_LINE_STYLES = ("--", ":", "-.", (0, (6, 2, 1, 2, 1, 2)))


def _save(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def ce_plane_figure(
    inc_qalys: pd.DataFrame, inc_costs: pd.DataFrame, comparator: str, wtp: Sequence[float], currency: str, path: Path, title: str
) -> None:
    """Incremental QALYs (x) and costs (y) of each strategy against the comparator, one point per draw."""
    fig, ax = plt.subplots(figsize=(10, 5.5), dpi=DPI)
    colours = strategy_colours(list(inc_qalys.columns))
    for name in inc_qalys.columns:
        if name == comparator:
            continue
        x, y = inc_qalys[name].to_numpy(), inc_costs[name].to_numpy()
        ax.scatter(x, y, s=6, alpha=0.35, label=name, color=colours[name])
        ax.scatter([x.mean()], [y.mean()], s=70, marker="X", color=colours[name], edgecolor="black", linewidth=0.8, zorder=5)
    ax.scatter([0], [0], s=40, color="black", zorder=6, label=f"{comparator} (origin)")
    xmin, xmax = ax.get_xlim()
    ymin, ymax = ax.get_ylim()
    span = np.linspace(xmin, xmax, 2)
    # Named in the legend, not beside the lines: thresholds whose lines leave the plot close together
    # (near the origin, or steep lines on a narrow plane) had their labels written over each other.
    for value, style in zip(wtp, itertools.cycle(WTP_LINE_STYLES)):
        ax.plot(span, span * value, linestyle=style, linewidth=1, color="grey", label=f"{currency} {numbers.money(value)}/QALY")
    ax.axhline(0, color="black", linewidth=0.6)
    ax.axvline(0, color="black", linewidth=0.6)
    ax.set_xlim(xmin, xmax)
    ax.set_ylim(ymin, ymax)
    ax.yaxis.set_major_formatter(_money)
    ax.set_xlabel(f"Incremental QALYs vs {comparator} (discounted, per patient)")
    ax.set_ylabel(f"Incremental costs vs {comparator} ({currency}, discounted)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(title="Strategy (X = mean); willingness to pay", fontsize=8, markerscale=2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    _save(fig, path)


def ceac_figure(
    grid: Sequence[float], acceptability: np.ndarray, strategies: Sequence[str], best: np.ndarray, currency: str, path: Path, title: str
) -> None:
    """Cost-effectiveness acceptability curves; the frontier (CEAF) drawn as a thick grey band."""
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    grid = np.asarray(grid)
    ax.plot(
        grid,
        acceptability[np.arange(len(grid)), best],
        color="grey",
        linewidth=7,
        alpha=0.35,
        label="frontier (CEAF)",
        solid_capstyle="butt",
    )
    colours = strategy_colours(list(strategies))
    for index, name in enumerate(strategies):
        ax.plot(grid, acceptability[:, index], linewidth=1.6, label=name, color=colours[name])
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(grid.min(), grid.max())
    ax.xaxis.set_major_formatter(_money)
    ax.set_xlabel(f"Willingness to pay ({currency} per QALY)")
    ax.set_ylabel("Probability cost-effective")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def ceaf_figure(
    grid: Sequence[float], best: np.ndarray, probability: np.ndarray, strategies: Sequence[str], currency: str, path: Path, title: str
) -> None:
    """Cost-effectiveness acceptability frontier: the probability that the optimal strategy (highest
    expected NMB) is cost-effective, coloured by which strategy that is."""
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    grid = np.asarray(grid)
    colours = strategy_colours(list(strategies))
    for index, name in enumerate(strategies):
        mask = best == index
        if mask.any():
            ax.scatter(grid[mask], probability[mask], s=14, color=colours[name], label=f"optimal: {name}")
    ax.plot(grid, probability, color="black", linewidth=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlim(grid.min(), grid.max())
    ax.xaxis.set_major_formatter(_money)
    ax.set_xlabel(f"Willingness to pay ({currency} per QALY)")
    ax.set_ylabel("Probability the optimal strategy is cost-effective")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    _save(fig, path)


def evpi_figure(grid: Sequence[float], per_patient: np.ndarray, population: float, currency: str, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    ax.plot(grid, per_patient, linewidth=1.8)
    ax.set_xlabel(f"Willingness to pay ({currency} per QALY)")
    ax.set_ylabel(f"EVPI per patient ({currency})")
    ax.xaxis.set_major_formatter(_money)
    ax.yaxis.set_major_formatter(_money)
    second = ax.secondary_yaxis("right", functions=(lambda v: v * population / 1e6, lambda v: v * 1e6 / population))
    second.set_ylabel(f"Population EVPI ({currency} million, {numbers.count(population)} patients)")
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    _save(fig, path)


EVPPI_PARAMETERS = 15  # the parameters with the largest EVPPI shown beside the groups


def evppi_figure(table: pd.DataFrame, currency: str, path: Path, title: str) -> None:
    """EVPPI per patient at the first willingness to pay: every group (left) and the parameters with the
    largest values (right), with 1.96 x their SE and the EVPI as a line for scale."""
    first = table[(table["wtp"] == table["wtp"].iloc[0]) & table["evppi_per_patient"].notna()]
    groups = first[first["kind"] == "group"].sort_values("evppi_per_patient")
    parameters = first[first["kind"] == "parameter"].nlargest(EVPPI_PARAMETERS, "evppi_per_patient").iloc[::-1]
    evpi = float(first["evpi_per_patient"].iloc[0])
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3.5, 0.3 * len(parameters) + 1.5)), dpi=DPI)
    for ax, shown, heading in ((axes[0], groups, "Parameter groups"), (axes[1], parameters, f"Top {len(parameters)} parameters")):
        y = np.arange(len(shown))
        ax.barh(y, shown["evppi_per_patient"], xerr=1.959964 * shown["evppi_se"], color="#4c72b0", ecolor="#555555", capsize=2)
        ax.axvline(evpi, color="#c44e52", linestyle="--", linewidth=1, label=f"EVPI {numbers.money(evpi)}")
        ax.set_yticks(y, list(shown["name"]), fontsize=7)
        ax.set_xlabel(f"EVPPI per patient ({currency}) at {currency} {numbers.money(first['wtp'].iloc[0])}/QALY")
        ax.xaxis.set_major_formatter(_money)
        ax.set_xlim(left=0)
        ax.set_title(heading, fontsize=9)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title)
    _save(fig, path)


def convergence_figure(outcomes: pd.DataFrame, strategies: Sequence[str], currency: str, path: Path, title: str) -> None:
    """Running mean over draws of discounted costs and QALYs per strategy."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), dpi=DPI, sharex=True)
    colours = strategy_colours(list(strategies))
    for name in strategies:
        group = outcomes[outcomes["strategy"] == name].sort_values("draw")
        count = np.arange(1, len(group) + 1)
        top.plot(count, group["costs"].cumsum().to_numpy() / count, linewidth=1.4, label=name, color=colours[name])
        bottom.plot(count, group["qalys"].cumsum().to_numpy() / count, linewidth=1.4, label=name, color=colours[name])
    top.set_ylabel(f"Mean costs ({currency})")
    top.yaxis.set_major_formatter(_money)
    bottom.set_ylabel("Mean QALYs")
    bottom.set_xlabel("Number of PSA draws")
    top.set_title(title)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    top.legend(fontsize=8)
    _save(fig, path)


TORNADO_BARS = 30  # a readable figure; a tornado's tail of near-zero swings carries no information


def tornado_figure(
    tornado: pd.DataFrame, base: float, target: str, comparator: str, wtp: float, currency: str, path: Path, title: str
) -> None:
    """One bar per parameter from the INMB at its low bound to the INMB at its high bound: the
    ``TORNADO_BARS`` widest swings (tornado.csv holds every parameter), clinical and economic together."""
    shown = tornado.head(TORNADO_BARS).iloc[::-1]
    height = max(3.0, 0.35 * len(shown) + 1.5)
    fig, ax = plt.subplots(figsize=(9, height), dpi=DPI)
    y = np.arange(len(shown))
    low, high = shown["inmb_low"].to_numpy(), shown["inmb_high"].to_numpy()
    ax.barh(y, low - base, left=base, color="#4c72b0", label="low bound")
    ax.barh(y, high - base, left=base, color="#dd8452", label="high bound")
    ax.axvline(base, color="black", linewidth=1)
    labels = [
        f"{p}  [{numbers.value(lo, 3)}, {numbers.value(hi, 3)}]" for p, lo, hi in zip(shown["parameter"], shown["low"], shown["high"])
    ]
    ax.set_yticks(y, labels, fontsize=7)
    ax.xaxis.set_major_formatter(_money)
    ax.set_xlabel(f"INMB of {target} vs {comparator} at {currency} {numbers.money(wtp)}/QALY ({currency} per patient)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path)
