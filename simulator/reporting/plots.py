"""Figures (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from .style import strategy_colours  # noqa: E402


def overall_survival_figure(survival: pd.DataFrame, path: Path, title: str) -> None:
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    colours = strategy_colours(list(dict.fromkeys(survival["strategy"])))  # the same colour as in every other figure
    for strategy, group in survival.groupby("strategy", sort=False):
        colour = colours[strategy]
        ax.step(group["time_months"], group["survival"], where="post", label=strategy, linewidth=1.6, color=colour)
        ax.fill_between(group["time_months"], group["lower_95"], group["upper_95"], step="post", alpha=0.12, color=colour)
    ax.set_xlabel("Months from start of treatment decision")
    ax.set_ylabel("Overall survival (Kaplan-Meier)")
    ax.set_ylim(0, 1.02)
    ax.set_xlim(left=0)
    ax.grid(alpha=0.3)
    ax.set_title(title)
    ax.legend(title="Strategy", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
