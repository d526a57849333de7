"""Figures of `nelm-sim scenarios`: the chosen metric across a sweep (line plot for one parameter, heat
map for two) or across named variants (dot plot with 95% CIs), and Kaplan-Meier curves of every run in
small multiples."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..outcomes.metrics import metric_info
from . import numbers
from .style import DPI, plt, save, shown_months, strategy_colours, time_ticks

if TYPE_CHECKING:  # pragma: no cover
    from ..experiments.variants import ScenarioAnalysis

MAX_KM_PANELS = 12  # beyond a dozen panels the curves are too small to read: evenly spaced runs are shown
KM_COLUMNS = 3  # panels per row: three 4.4-inch panels fit the report's width
DOT_OFFSET = 0.18  # vertical spread of the strategies' dots within one variant's row (row height 1)


def _is_share(metric: str) -> bool:
    return metric_info(metric)[1] == "share"


def _scale(metric: str) -> float:
    return 100.0 if _is_share(metric) else 1.0


def _axis_label(metric: str) -> str:
    label, unit, _ = metric_info(metric)
    return f"{label} (%)" if unit == "share" else (f"{label} ({unit})" if unit else label)


def _estimates(table: pd.DataFrame, variant: str, strategy: str, metric: str) -> tuple[float, float, float]:
    row = table[(table["variant"] == variant) & (table["strategy"] == strategy) & (table["metric"] == metric)]
    if row.empty:
        return math.nan, math.nan, math.nan
    first = row.iloc[0]
    return float(first["estimate"]), float(first["lower"]), float(first["upper"])


def sweep_line_figure(
    table: pd.DataFrame, points: list[tuple[str, float]], parameter: str, strategies: list[str], metric: str, base_value: float | None
):
    """One line per strategy: the metric (95% CI band) at each value of the swept parameter.

    ``points``: (run name, parameter value) of the sweep points."""
    colours = strategy_colours(strategies)
    scale = _scale(metric)
    order = sorted(points, key=lambda p: p[1])
    xs = np.array([value for _, value in order])
    fig, ax = plt.subplots(figsize=(8.5, 5.0), dpi=DPI)
    for strategy in strategies:
        values = np.array([_estimates(table, name, strategy, metric) for name, _ in order]) * scale
        if np.isnan(values[:, 0]).all():
            continue
        ax.plot(xs, values[:, 0], marker="o", color=colours[strategy], label=strategy, linewidth=1.6)
        ax.fill_between(xs, values[:, 1], values[:, 2], color=colours[strategy], alpha=0.15, linewidth=0)
    if base_value is not None:
        ax.axvline(base_value, color="grey", linestyle="--", linewidth=1)
        ax.annotate(
            f"base {base_value:g}",
            xy=(base_value, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(3, -12),
            textcoords="offset points",
            fontsize=8,
            color="grey",
        )
    ax.set_xlabel(parameter)
    ax.set_ylabel(_axis_label(metric))
    ax.set_title(f"{metric_info(metric)[0]} across {parameter}")
    ax.grid(alpha=0.3)
    ax.legend(title="Strategy", fontsize=8)
    fig.tight_layout()
    return fig


def sweep_heatmap_figure(
    table: pd.DataFrame, points: list[tuple[str, float, float]], parameters: tuple[str, str], strategies: list[str], metric: str
):
    """One heat map per strategy over the grid of two swept parameters, on one colour scale.

    ``points``: (run name, first value, second value) of the grid cells."""
    scale = _scale(metric)
    xs = sorted({p[1] for p in points})
    ys = sorted({p[2] for p in points})
    grids = {}
    for strategy in strategies:
        grid = np.full((len(ys), len(xs)), np.nan)
        for name, x, y in points:
            grid[ys.index(y), xs.index(x)] = _estimates(table, name, strategy, metric)[0] * scale
        grids[strategy] = grid
    shown = [s for s in strategies if not np.isnan(grids[s]).all()] or strategies[:1]
    finite = np.concatenate([grids[s][np.isfinite(grids[s])] for s in shown]) if shown else np.array([])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    columns = min(KM_COLUMNS, len(shown))
    rows = math.ceil(len(shown) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns + 1.2, 4.0 * rows + 0.8), dpi=DPI, squeeze=False)
    image = None
    for ax, strategy in zip(axes.flat, shown):
        image = ax.imshow(grids[strategy], origin="lower", aspect="auto", cmap="viridis", vmin=low, vmax=high)
        for i in range(len(ys)):
            for j in range(len(xs)):
                value = grids[strategy][i, j]
                if np.isfinite(value):
                    # white text on the dark half of viridis, black on the light half
                    dark = (value - low) / (high - low) < 0.5 if high > low else True
                    text = numbers.number(value / scale, numbers.kind_of_unit(metric_info(metric)[1]))
                    ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if dark else "black")
        ax.set_xticks(range(len(xs)))
        ax.set_xticklabels([f"{x:g}" for x in xs], fontsize=7, rotation=45)
        ax.set_yticks(range(len(ys)))
        ax.set_yticklabels([f"{y:g}" for y in ys], fontsize=7)
        ax.set_xlabel(parameters[0], fontsize=8)
        ax.set_ylabel(parameters[1], fontsize=8)
        ax.set_title(strategy, fontsize=10)
    for ax in list(axes.flat)[len(shown) :]:
        ax.set_visible(False)
    fig.suptitle(f"{metric_info(metric)[0]}\nover {parameters[0]} x {parameters[1]}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 0.88, 0.93))
    if image is not None:
        bar = fig.add_axes((0.9, 0.15, 0.02, 0.65))
        unit = metric_info(metric)[1]
        fig.colorbar(image, cax=bar, label="%" if unit == "share" else unit)
    return fig


def variant_dot_figure(table: pd.DataFrame, variants: list[str], strategies: list[str], metric: str):
    """The metric with its 95% CI for each variant (rows, the base on top) and strategy (colours)."""
    colours = strategy_colours(strategies)
    scale = _scale(metric)
    fig, ax = plt.subplots(figsize=(8.5, 1.4 + 0.55 * len(variants) * max(1, len(strategies)) ** 0.5), dpi=DPI)
    spread = np.linspace(-DOT_OFFSET, DOT_OFFSET, len(strategies)) if len(strategies) > 1 else np.zeros(1)
    for offset, strategy in zip(spread, strategies):
        for row, variant in enumerate(variants):
            estimate, lower, upper = (v * scale for v in _estimates(table, variant, strategy, metric))
            if math.isnan(estimate):
                continue
            if not (math.isnan(lower) or math.isnan(upper)):
                ax.plot([lower, upper], [row + offset] * 2, color=colours[strategy], linewidth=1.6)
            ax.plot([estimate], [row + offset], marker="o", color=colours[strategy], linestyle="none", label=strategy)
    if len(variants) > 1:
        ax.axhspan(-0.5, 0.5, color="#eeeeee", zorder=0)  # the base row
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles))
    ax.legend(unique.values(), unique.keys(), title="Strategy", fontsize=8, loc="best")
    ax.set_yticks(range(len(variants)))
    ax.set_yticklabels(variants)
    ax.set_ylim(len(variants) - 0.5, -0.5)
    ax.set_xlabel(_axis_label(metric) + ", mean of replications with 95% CI")
    ax.set_ylabel("Variant")
    ax.set_title(f"{metric_info(metric)[0]} by variant")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig


def km_small_multiples(curves: pd.DataFrame, variants: list[str], strategies: list[str], horizons: dict[str, float], base: str | None):
    """One panel per variant: Kaplan-Meier OS of each strategy; in the other panels the base's curves
    are drawn thin and dashed, so each panel shows what the variant changed."""
    colours = strategy_colours(strategies)
    columns = min(KM_COLUMNS, len(variants))
    rows = math.ceil(len(variants) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.4 * columns, 3.4 * rows + 0.9), dpi=DPI, sharey=True, squeeze=False)
    horizon = shown_months(curves[curves["variant"].isin(variants)], max(horizons.values()), ["variant", "strategy"])
    for ax, variant in zip(axes.flat, variants):
        if base is not None and variant != base:
            for strategy in strategies:
                group = curves[(curves["variant"] == base) & (curves["strategy"] == strategy)]
                if len(group):
                    ax.step(
                        group["time_months"],
                        group["survival"],
                        where="post",
                        color=colours[strategy],
                        linewidth=0.8,
                        linestyle="--",
                        alpha=0.6,
                    )
        for strategy in strategies:
            group = curves[(curves["variant"] == variant) & (curves["strategy"] == strategy)]
            if len(group):
                ax.step(group["time_months"], group["survival"], where="post", color=colours[strategy], linewidth=1.5, label=strategy)
        ax.set_title(variant.replace(", ", "\n"), fontsize=8 if ", " in variant else 9)  # a grid point: one parameter a line
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1.02)
        ax.set_xticks(time_ticks(horizon))
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(variants) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("Overall survival", fontsize=8)
    for column in range(columns):  # the lowest panel of each column carries the x label
        lowest = max(row for row in range(rows) if row * columns + column < len(variants))
        axes[lowest, column].set_xlabel("Months", fontsize=8)
    handles = [plt.Line2D([], [], color=colours[s], linewidth=1.5) for s in strategies]
    labels = list(strategies)
    if base is not None and len(variants) > 1:
        handles.append(plt.Line2D([], [], color="grey", linewidth=0.8, linestyle="--"))
        labels.append(f"{base} (for reference)")
    fig.legend(handles, labels, loc="lower center", ncol=min(len(labels), 4), fontsize=8, frameon=False)
    fig.suptitle("Overall survival by variant (Kaplan-Meier, replications pooled)")
    fig.tight_layout(rect=(0, 0.06, 1, 0.97))
    return fig


def _spaced(items: list[str], limit: int) -> list[str]:
    """At most ``limit`` items, the first and last included, evenly spaced."""
    if len(items) <= limit:
        return items
    picks = sorted({round(k * (len(items) - 1) / (limit - 1)) for k in range(limit)})
    return [items[k] for k in picks]


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", text)


def write_variant_figures(analysis: ScenarioAnalysis, folder: Path) -> list[tuple[Path, str]]:
    """The scenario-analysis figures as PNG in ``folder``; (path, caption) in report order."""
    table = analysis.table()
    metric = analysis.metric
    strategies = analysis.strategies
    label = metric_info(metric)[0]
    replications = analysis.base.replications
    out: list[tuple[Path, str]] = []
    base_name = analysis.runs[0].name
    sweep = [r for r in analysis.runs if r.kind == "sweep"]
    named = [r.name for r in analysis.runs if r.kind != "sweep"]
    if sweep and len(sweep[0].sweep) == 1:
        parameter = sweep[0].sweep[0][0]
        base_params = analysis.runs[0].prepared.params
        base_value = base_params.value(parameter) if parameter in base_params else None
        fig = sweep_line_figure(table, [(r.name, r.sweep[0][1]) for r in sweep], parameter, strategies, metric, base_value)
        out.append(
            (
                save(fig, folder / f"sweep_{_file_part(metric)}.png"),
                f"{label} of each strategy as {parameter} varies (mean of {replications} replication(s), 95% CI band; dashed line: the base scenario's value)."
                " Every point uses the same random numbers, so the differences between points are much more precise than the bands.",
            )
        )
    elif sweep:
        parameters = (sweep[0].sweep[0][0], sweep[0].sweep[1][0])
        fig = sweep_heatmap_figure(table, [(r.name, r.sweep[0][1], r.sweep[1][1]) for r in sweep], parameters, strategies, metric)
        out.append(
            (
                save(fig, folder / f"sweep_{_file_part(metric)}.png"),
                f"{label} of each strategy over the grid of {parameters[0]} and {parameters[1]} (mean of {replications} replication(s)).",
            )
        )
    if len(named) > 1:
        fig = variant_dot_figure(table, named, strategies, metric)
        out.append(
            (
                save(fig, folder / f"variants_{_file_part(metric)}.png"),
                f"{label} by variant and strategy: mean of {replications} replication(s) with t-based 95% CI; the base is the shaded top row.",
            )
        )
    panels = named if len(named) > 1 else [base_name] + [r.name for r in sweep]
    shown = _spaced(panels, MAX_KM_PANELS)
    horizons = {r.name: r.prepared.scenario.horizon_months for r in analysis.runs}
    fig = km_small_multiples(analysis.survival(), shown, strategies, {v: horizons[v] for v in shown}, base_name)
    note = "" if len(shown) == len(panels) else f" ({len(shown)} of {len(panels)} runs shown, evenly spaced)"
    out.append(
        (
            save(fig, folder / "km_by_variant.png"),
            f"Kaplan-Meier overall survival of each strategy in each variant{note}; dashed: the base scenario's curves. The same patients' random numbers in every panel.",
        )
    )
    return out
