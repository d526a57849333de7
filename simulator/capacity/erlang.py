"""Erlang C: the M/M/c queue in closed form, to verify the resource and queue code against.

Arrivals Poisson at rate ``lam``, service exponential at rate ``mu`` per server, ``c`` servers,
first come first served, infinite queue. Offered load ``a = lam / mu`` (Erlangs), utilisation
``rho = a / c`` (must be < 1 for a steady state). Formulas: Kleinrock L, Queueing Systems Vol. 1
(Wiley 1975), section 3.5; Gross D, Harris CM, Fundamentals of Queueing Theory, 4th ed. 2008,
section 2.3:

    C(c, a)   = [a^c / c! / (1 - rho)] / [sum_{k<c} a^k / k! + a^c / c! / (1 - rho)]   (P(wait > 0))
    Wq        = C(c, a) / (c mu - lam)                                                 (mean wait)
    P(W > t)  = C(c, a) exp(-(c mu - lam) t)                                           (wait tail)
"""

from __future__ import annotations

import math


def _check(lam: float, mu: float, c: int) -> float:
    if c < 1 or int(c) != c:
        raise ValueError(f"c must be a whole number >= 1, got {c}")
    if lam <= 0 or mu <= 0:
        raise ValueError("arrival and service rates must be > 0")
    rho = lam / (c * mu)
    if rho >= 1:
        raise ValueError(f"no steady state: utilisation lam / (c mu) = {rho:.3f} >= 1")
    return rho


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits, for ``c`` servers and offered load ``a`` Erlangs (a < c).

    Computed with the Erlang B recursion B(k) = a B(k-1) / (k + a B(k-1)), B(0) = 1, which is stable
    for large c, then C = B / (1 - rho (1 - B))."""
    if c < 1 or int(c) != c:
        raise ValueError(f"c must be a whole number >= 1, got {c}")
    if not 0 < a < c:
        raise ValueError(f"offered load a must be in (0, c), got a={a}, c={c}")
    b = 1.0
    for k in range(1, int(c) + 1):
        b = a * b / (k + a * b)
    rho = a / c
    return b / (1.0 - rho * (1.0 - b))


def mmc_utilisation(lam: float, mu: float, c: int) -> float:
    return _check(lam, mu, c)


def mmc_mean_wait(lam: float, mu: float, c: int) -> float:
    """Mean time in the queue (before service), in the time unit of the rates."""
    _check(lam, mu, c)
    return erlang_c(c, lam / mu) / (c * mu - lam)


def mmc_wait_quantile(lam: float, mu: float, c: int, q: float) -> float:
    """The q-quantile of the wait in the queue (0 when P(wait > 0) <= 1 - q)."""
    _check(lam, mu, c)
    if not 0 < q < 1:
        raise ValueError("q must be in (0, 1)")
    waiting = erlang_c(c, lam / mu)
    if waiting <= 1.0 - q:
        return 0.0
    return math.log(waiting / (1.0 - q)) / (c * mu - lam)


def smallest_servers(lam: float, mu: float, quantile: float, target: float, maximum: int = 1000) -> int:
    """The fewest servers whose ``quantile`` wait is at most ``target`` (closed form)."""
    c = max(1, math.floor(lam / mu) + 1)
    while c <= maximum:
        if mmc_wait_quantile(lam, mu, c, quantile) <= target:
            return c
        c += 1
    raise ValueError(f"no capacity up to {maximum} meets the target")
