"""Parameter sets for sensitivity analysis.

PSA: every library entry with a ``psa:`` field is drawn; the others keep their value. Draw d of
parameter p uses the uniforms of purpose ``psa.<p>`` of ``RandomStreams(seed, 0, d)``: it depends
only on the scenario seed, the draw index and the parameter name, never on the worker process or
on which other parameters are drawn. Each draw is shared by all strategies (common random numbers).

DSA: ``with_value`` replaces one value (for example by its ``low`` or ``high`` bound).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..core.rng import RandomStreams
from ..errors import UserInputError
from ..params.parameter_set import ParameterSet
from ..params.schema import ParameterEntry

PSA_PURPOSE_PREFIX = "psa."
PSA_REPLICATION = 0  # parameter draws are not replicated: the draw index keys them
# Uniforms are kept inside the open interval (0, 1) so that inverse CDFs stay finite.
_OPEN = (np.nextafter(0.0, 1.0), np.nextafter(1.0, 0.0))


def sampled_names(params: ParameterSet) -> list[str]:
    return [name for name in params.names() if params.entries[name].psa is not None]


def bounded_names(params: ParameterSet) -> list[str]:
    return [name for name in params.names() if params.entries[name].low is not None]


# A draw that makes its entry invalid (e.g. a normal draw of a Weibull shape below 0) is re-drawn
# from the same stream's next uniforms, up to this many times; past that the run stops with the
# parameter's name. Re-draws are counted in psa_parameters.csv (column psa_redraws).
MAX_REDRAWS = 100


def _uniforms(streams: RandomStreams, name: str, count: int, attempt: int = 0) -> np.ndarray:
    block = streams.block(PSA_PURPOSE_PREFIX + name, attempt // 64).ravel()
    start = (attempt % 64) * count
    return np.clip(block[start : start + count], *_OPEN)


def _valid(entry: ParameterEntry) -> bool:
    try:
        ParameterEntry.model_validate(entry.model_dump())
    except ValueError:
        return False
    return True


def _draw_value(entry: ParameterEntry, u: float) -> float:
    spec = entry.psa
    mean, se = float(entry.value), float(spec.se)  # type: ignore[arg-type, union-attr]
    if mean == 0.0 or (spec.distribution == "beta" and mean == 1.0):  # type: ignore[union-attr]
        return mean  # a value on the boundary of its distribution: degenerate (schema.check_psa)
    if spec.distribution == "beta":  # type: ignore[union-attr]
        common = mean * (1.0 - mean) / se**2 - 1.0
        # The quantile functions scipy.stats' beta.ppf and gamma.ppf call, without importing scipy.stats
        # (a third of a second at every `validate`); the same values bit for bit (tests/test_psa.py).
        return float(special.betaincinv(mean * common, (1.0 - mean) * common, u))
    if spec.distribution == "gamma":  # type: ignore[union-attr]
        shape = (mean / se) ** 2
        return float(special.gammaincinv(shape, u)) * (se**2 / mean)
    # lognormal: median = value, se = standard error of log(value)
    return float(math.exp(math.log(mean) + se * special.ndtri(u)))


def _draw_distribution(entry: ParameterEntry, uniforms: np.ndarray) -> dict:
    spec = entry.psa
    names = list(spec.parameters)  # type: ignore[union-attr, arg-type]
    centre = np.array([float(entry.params[n]) for n in names])  # type: ignore[index]
    if spec.scale == "log":  # type: ignore[union-attr]
        centre = np.log(centre)
    z = special.ndtri(uniforms[: len(names)])
    if spec.distribution == "normal":  # type: ignore[union-attr]
        drawn = centre + float(spec.se) * z  # type: ignore[union-attr, arg-type]
    else:
        covariance = np.asarray(spec.covariance, dtype=float)  # type: ignore[union-attr]
        values, vectors = np.linalg.eigh(covariance)
        drawn = centre + vectors @ (np.sqrt(np.clip(values, 0.0, None)) * z)
    if spec.scale == "log":  # type: ignore[union-attr]
        drawn = np.exp(drawn)
    return {**entry.params, **{n: float(v) for n, v in zip(names, drawn)}}  # type: ignore[dict-item]


def replace_entries(params: ParameterSet, updates: dict[str, ParameterEntry]) -> ParameterSet:
    entries = dict(params.entries)
    entries.update(updates)
    return ParameterSet(entries, dict(params.origins))


def draw_parameters(params: ParameterSet, seed: int, draw: int) -> tuple[ParameterSet, dict[str, float]]:
    """The parameter set of PSA draw ``draw`` and the drawn values (distribution parameters as ``name.param``)."""
    streams = RandomStreams(seed, PSA_REPLICATION, draw)
    updates: dict[str, ParameterEntry] = {}
    drawn: dict[str, float] = {}
    redraws = 0
    for name in sampled_names(params):
        entry = params.entries[name]
        for attempt in range(MAX_REDRAWS + 1):
            try:
                if entry.value is not None:
                    candidate = entry.model_copy(update={"value": _draw_value(entry, float(_uniforms(streams, name, 1, attempt)[0]))})
                else:
                    count = len(entry.psa.parameters)  # type: ignore[union-attr, arg-type]
                    candidate = entry.model_copy(update={"params": _draw_distribution(entry, _uniforms(streams, name, count, attempt))})
            except OverflowError:  # a draw too large for a float (e.g. exp of a huge lognormal draw): outside the support
                candidate = None
            if candidate is not None and _valid(candidate):
                break
            redraws += 1
        else:
            raise UserInputError(
                f"{name}: expected PSA draws inside the parameter's support; {MAX_REDRAWS} re-draws in a row fell outside it (draw {draw})"
            )
        assert candidate is not None
        updates[name] = candidate
        if entry.value is not None:
            drawn[name] = float(candidate.value)  # type: ignore[arg-type]
        else:
            for key in entry.psa.parameters:  # type: ignore[union-attr]
                drawn[f"{name}.{key}"] = candidate.params[key]  # type: ignore[index]
    drawn["psa_redraws"] = redraws
    return replace_entries(params, updates), drawn


def with_value(params: ParameterSet, name: str, value: float) -> ParameterSet:
    """The parameter set with one value entry replaced."""
    entry = params.entries[name]
    if entry.value is None:
        raise ValueError(f"{name} is a distribution, not a value")
    return replace_entries(params, {name: entry.model_copy(update={"value": float(value)})})
