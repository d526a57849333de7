"""Shared figure style: one colour per strategy and per treatment, the same in every figure."""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

# Legends without a location go top right rather than "best": "best" searches every figure for its
# emptiest corner and warns ("can be slow") when that search is slow, which depends on the machine's
# load, so the same run printed a warning on a busy machine only.
matplotlib.rcParams["legend.loc"] = "upper right"

DPI = 110


def _by_name(names: list[str], fixed: list[str], palette_name: str) -> dict[str, str]:
    """One colour per name, the same in every figure whichever other names it shares a figure with:
    the ``fixed`` names (bundled strategies, every treatment) keep their place in the palette; any other
    name takes the slot its text hashes to (the next free one if two collide within a figure)."""
    palette = [matplotlib.colors.to_hex(colour) for colour in plt.get_cmap(palette_name).colors]
    colours: dict[str, str] = {}
    taken: set[int] = set()
    for name in names:
        if name in fixed:
            slot = fixed.index(name) % len(palette)
            colours[name] = palette[slot]
            taken.add(slot)
    free = [slot for slot in range(len(palette)) if slot not in {fixed.index(n) % len(palette) for n in fixed}] or list(range(len(palette)))
    for name in sorted(names):  # sorted: the same set of names gets the same colours in any order
        if name in colours:
            continue
        start = int(hashlib.sha256(name.encode("utf-8")).hexdigest(), 16) % len(free)
        for step in range(len(free)):
            slot = free[(start + step) % len(free)]
            if slot not in taken or step == len(free) - 1:
                break
        colours[name] = palette[slot]
        taken.add(slot)
    return colours


def strategy_colours(strategies: list[str]) -> dict[str, str]:
    from ..pathways.strategies import bundled_strategies

    return _by_name(list(strategies), list(bundled_strategies()), "tab10")


def treatment_colours(treatments: list[str]) -> dict[str, str]:
    from ..pathways import MODALITIES

    return _by_name(sorted(treatments), list(MODALITIES), "tab20")


# Months between x ticks (and at-risk columns): the first that leaves at most MAX_TIME_TICKS intervals;
# yearly up to 10 years, every 2 years up to 20, then every 5 and 10 years.
TICK_STEPS = (12.0, 24.0, 60.0, 120.0)
MAX_TIME_TICKS = 10
# Curves over time stop once fewer than this share of every strategy's patients are still followed,
# rather than run on to a lifetime horizon (1,200 months) where nearly everyone has died: a presentation
# choice (assumption), after the advice not to extend survival plots where few remain at risk (Pocock,
# Clayton & Altman, Lancet 2002;359:1686-9).
SHOWN_AT_RISK_SHARE = 0.01


def tick_step(horizon: float) -> float:
    """Months between x ticks (and at-risk columns) on an axis ``horizon`` months long."""
    return next((step for step in TICK_STEPS if horizon <= MAX_TIME_TICKS * step), TICK_STEPS[-1])


def time_ticks(shown: float) -> np.ndarray:
    return np.arange(0.0, shown + 1e-9, tick_step(shown))


def shown_months(curves: pd.DataFrame, horizon: float, by: list[str]) -> float:
    """How far the time axis of figures over time runs: the horizon, or sooner (on a tick) when every
    curve of ``curves`` (``time_months`` and ``at_risk`` per group ``by``) has fallen below
    SHOWN_AT_RISK_SHARE of its patients at risk before it."""
    until = 0.0
    for _, group in curves.groupby(by, sort=False):
        at_risk = group["at_risk"].to_numpy(dtype=float)
        few = np.flatnonzero(at_risk < SHOWN_AT_RISK_SHARE * at_risk.max())
        if not len(few):
            return float(horizon)
        until = max(until, float(group["time_months"].iloc[few[0]]))
    if until <= 0.0:
        return float(horizon)
    step = tick_step(until)
    return float(min(horizon, math.ceil(until / step) * step))


def save(fig: Figure, path: Path) -> Path:
    # No date in the file's metadata: the same run gives the same bytes.
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path
