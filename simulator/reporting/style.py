"""Shared figure style: one colour per strategy and per treatment, the same in every figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

DPI = 110


def strategy_colours(strategies: list[str]) -> dict[str, str]:
    palette = plt.get_cmap("tab10").colors
    return {name: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, name in enumerate(strategies)}


def treatment_colours(treatments: list[str]) -> dict[str, str]:
    palette = plt.get_cmap("tab20").colors
    return {name: matplotlib.colors.to_hex(palette[i % len(palette)]) for i, name in enumerate(sorted(treatments))}


def tick_step(horizon: float) -> float:
    """Months between x ticks (and at-risk columns): yearly up to 10 years, then every 2 years."""
    return 12.0 if horizon <= 120 else 24.0


def save(fig: Figure, path: Path) -> Path:
    # No date in the file's metadata: the same run gives the same bytes.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path
