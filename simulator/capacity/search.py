"""The smallest capacity that meets a waiting-time target, by an upward scan.

``evaluate(capacity)`` returns (p90 wait, anything else to report). The scan starts at ``start`` and
stops at the first capacity whose p90 wait is within the target (waits do not grow with capacity when
the random numbers are common, so the first hit is the smallest), or at ``maximum``. Every evaluated
point is kept: the trade-off curve. The same seed gives the same evaluations, hence the same answer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class SearchResult:
    answer: int | None  # None: no capacity up to ``maximum`` meets the target
    target: float
    curve: list[tuple[int, float, Any]] = field(default_factory=list)  # (capacity, p90 wait, extra)


def smallest_capacity(
    evaluate: Callable[[int], tuple[float, Any]], target: float, start: int = 1, maximum: int = 50, beyond: int = 1
) -> SearchResult:
    """Scan capacities start, start + 1, ... up to ``maximum``; also evaluate ``beyond`` more points after the
    answer so that the curve shows what one more unit buys."""
    result = SearchResult(None, target)
    extra_left = beyond
    for capacity in range(start, maximum + 1):
        wait, extra = evaluate(capacity)
        result.curve.append((capacity, wait, extra))
        if result.answer is None and not math.isnan(wait) and wait <= target:
            result.answer = capacity
        elif result.answer is not None:
            extra_left -= 1
        if result.answer is not None and extra_left <= 0:
            break
    return result
