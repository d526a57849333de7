"""Pair plot of a posterior sample: each parameter's histogram on the diagonal, each pair's scatter below it."""

from __future__ import annotations

import numpy as np

from .style import plt

# A panel per pair of parameters: small enough that 22 parameters still fit a page-sized figure.
PANEL_INCHES = 1.1
PAIR_PLOT_DPI = 72


def pair_plot(samples: np.ndarray, names: list[str], lower: np.ndarray, upper: np.ndarray):
    """``samples`` on the log scale the posterior was sampled on, one column per name, axes the prior's bounds."""
    count = len(names)
    fig = plt.figure(figsize=(PANEL_INCHES * count + 1, PANEL_INCHES * count + 1), dpi=PAIR_PLOT_DPI)
    grid = fig.add_gridspec(count, count)
    # Only the panels on and below the diagonal are made: an empty panel costs as much to set up as a
    # drawn one, and above the diagonal they were all hidden (half of the figure's time for 22 parameters).
    for row in range(count):
        for column in range(row + 1):
            ax = fig.add_subplot(grid[row, column])
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlim(lower[column], upper[column])
            if row == column:
                ax.hist(samples[:, column], bins=30, range=(lower[column], upper[column]), color="#4c72b0")
            else:
                ax.set_ylim(lower[row], upper[row])
                ax.scatter(samples[:, column], samples[:, row], s=1, alpha=0.3, color="#4c72b0", linewidths=0)
            if column == 0:
                ax.set_ylabel(names[row], rotation=0, ha="right", fontsize=7)
            if row == count - 1:
                ax.set_xlabel(names[column], rotation=90, fontsize=7)
    fig.suptitle("Posterior of the calibrated parameters (log scale; axes span the prior's bounds)")
    return fig
