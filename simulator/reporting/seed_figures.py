"""The seed review's figures redrawn from simulated patients, with the published points overlaid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..outcomes.survival import fit_km  # noqa: E402


@dataclass(frozen=True)
class PublishedPoint:
    arm: str
    months: float
    survival: float
    label: str


@dataclass(frozen=True)
class SeedFigure:
    key: str  # file name stem, e.g. fig1
    title: str
    scenario: str
    endpoint: str  # os | pfs1 | pfs2
    arms: tuple[str, ...]
    points: tuple[PublishedPoint, ...]
    x_label: str
    horizon: float


def _durations(patients: pd.DataFrame, arm: str, endpoint: str) -> tuple[pd.Series, pd.Series]:
    frame = patients[patients["strategy"] == arm]
    if endpoint == "os":
        return frame["os_months"], frame["death"]
    frame = frame[frame[f"{endpoint}_months"].notna()]
    return frame[f"{endpoint}_months"], frame[f"{endpoint}_event"]


def draw_seed_figure(figure: SeedFigure, patients: pd.DataFrame, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(7.5, 5), dpi=110)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for index, arm in enumerate(figure.arms):
        durations, events = _durations(patients, arm, figure.endpoint)
        kmf = fit_km(durations, events, arm)
        curve = kmf.survival_function_
        ax.step(curve.index, curve.iloc[:, 0], where="post", color=colours[index], label=f"simulated: {arm} (n={len(durations)})")
        for point in (p for p in figure.points if p.arm == arm):
            ax.plot(
                point.months,
                point.survival,
                marker="o",
                markersize=9,
                markerfacecolor="white",
                markeredgewidth=2,
                color=colours[index],
                linestyle="none",
            )
            ax.annotate(
                point.label, (point.months, point.survival), textcoords="offset points", xytext=(6, 6), fontsize=8, color=colours[index]
            )
    ax.plot([], [], marker="o", markerfacecolor="white", color="grey", linestyle="none", label="published (open circles)")
    ax.set_xlim(0, figure.horizon)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(figure.x_label)
    ax.set_ylabel("Proportion without event (Kaplan-Meier)")
    ax.set_title(figure.title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


SEED_FIGURES = (
    SeedFigure(
        "fig1",
        "Fig 1: overall survival after liver-directed surgery (Mayo 2010)",
        "mayo2010-hepatectomy",
        "os",
        ("surgery-first",),
        (
            PublishedPoint("surgery-first", 125.1, 0.5, "median 125.1 mo"),
            PublishedPoint("surgery-first", 60, 0.74, "5-y 74%"),
            PublishedPoint("surgery-first", 120, 0.51, "10-y 51%"),
        ),
        "Months from first liver-directed operation",
        180,
    ),
    SeedFigure(
        "fig2b",
        "Fig 2B: symptomatic, >25% burden: surgery vs IAT (Mayo 2011)",
        "mayo2011-matched-high-burden",
        "os",
        ("surgery-first", "iat-first"),
        (PublishedPoint("surgery-first", 87, 0.5, "median 87 mo"), PublishedPoint("iat-first", 51, 0.5, "median 51 mo")),
        "Months from treatment",
        180,
    ),
    SeedFigure(
        "fig3a",
        "Fig 3A: PROMID, time to progression, octreotide LAR vs placebo",
        "promid",
        "pfs1",
        ("octreotide-lar", "placebo"),
        (PublishedPoint("octreotide-lar", 14.3, 0.5, "median 14.3 mo"), PublishedPoint("placebo", 6.0, 0.5, "median 6.0 mo")),
        "Months from randomisation",
        48,
    ),
    SeedFigure(
        "fig3b",
        "Fig 3B: RADIANT-3, progression-free survival, everolimus vs placebo",
        "radiant3",
        "pfs1",
        ("everolimus", "placebo"),
        (
            PublishedPoint("everolimus", 11.0, 0.5, "median 11.0 mo"),
            PublishedPoint("placebo", 4.6, 0.5, "median 4.6 mo"),
            PublishedPoint("everolimus", 18, 0.34, "18-mo 34%"),
            PublishedPoint("placebo", 18, 0.09, "18-mo 9%"),
        ),
        "Months from randomisation",
        36,
    ),
)


# --------------------------------------------------------------------------------------------
# Validation figures (issue 16 item 5): one per validation study, drawn from its targets in
# params/validation_targets.yaml (published point and tolerance bar), never from hard-coded values.

_ENDPOINT_LABELS = {"os": "Overall survival", "pfs1": "Progression-free (first line)", "pfs2": "Progression-free (second line)"}


def draw_validation_figure(study: str, targets: list, patients: pd.DataFrame, horizon: float, path: Path) -> None:
    """Simulated Kaplan-Meier curves of every arm a study's targets name, one panel per endpoint, with the
    published points and their pre-committed tolerance: a landmark as a vertical bar at its month, a median
    as a horizontal bar at 50%; a hazard ratio (not a point on a curve) is written in the panel."""
    endpoints = list(dict.fromkeys(t.endpoint for t in targets))
    fig, axes = plt.subplots(1, len(endpoints), figsize=(6.5 * len(endpoints), 4.8), dpi=110, squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    arms = list(dict.fromkeys(a for t in targets for a in (t.arm, t.control) if a is not None))
    for ax, endpoint in zip(axes[0], endpoints):
        here = [t for t in targets if t.endpoint == endpoint]
        notes = []
        for index, arm in enumerate(arms):
            colour = colours[index % len(colours)]
            durations, events = _durations(patients, arm, endpoint)
            if len(durations):
                curve = fit_km(durations, events, arm).survival_function_
                ax.step(curve.index, curve.iloc[:, 0], where="post", color=colour, label=f"simulated: {arm} (n={len(durations)})")
            for target in (t for t in here if t.arm == arm and t.metric != "hazard_ratio"):
                low, high, _ = target.bounds()
                if target.metric == "median":
                    x, y, xerr, yerr = target.published, 0.5, [[target.published - low], [high - target.published]], None
                    label = f"median {target.published:g} mo"
                else:
                    x, y, xerr, yerr = target.months, target.published, None, [[target.published - low], [high - target.published]]
                    label = f"{target.months:g} mo: {target.published:.0%}"
                ax.errorbar(x, y, xerr=xerr, yerr=yerr, marker="o", markersize=8, markerfacecolor="white", capsize=4, color=colour)
                ax.annotate(label, (x, y), textcoords="offset points", xytext=(6, 6), fontsize=8, color=colour)
        for target in (t for t in here if t.metric == "hazard_ratio"):
            low, high, _ = target.bounds()
            notes.append(f"published HR {target.arm} vs {target.control}: {target.published:g} (tolerance {low:g}-{high:g})")
        if notes:
            ax.text(0.02, 0.03, "\n".join(notes), transform=ax.transAxes, fontsize=8)
        ax.errorbar([], [], xerr=[], marker="o", markerfacecolor="white", color="grey", linestyle="none", label="published, tolerance bar")
        ax.set_xlim(0, horizon)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("Months from entry (first treatment or randomisation)")
        ax.set_ylabel(f"{_ENDPOINT_LABELS.get(endpoint, endpoint)} (Kaplan-Meier)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(f"Validation: {study} ({targets[0].population})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
