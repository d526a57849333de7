"""Parameter sets for sensitivity analysis.

PSA: every library entry with a ``psa:`` field is drawn; the others keep their value. Draw d of
parameter p uses the uniforms of purpose ``psa.<p>`` of ``RandomStreams(seed, 0, d)``: it depends
only on the scenario seed, the draw index and the parameter name, never on the worker process or
on which other parameters are drawn. Each draw is shared by all strategies (common random numbers).

Shares with a ``dirichlet`` spec are drawn jointly per ``group`` (purpose ``psa.group.<group>``).
Calibrated parameters are drawn jointly from the posterior sample that `nelm-sim calibrate
--posterior` saved in the library (params/posterior.csv): one posterior row per PSA draw (purpose
``psa.posterior``), so their correlations are kept. A parameter neither drawn nor in the posterior
states why it is fixed (``psa_status``).

DSA: ``with_value`` replaces one value (for example by its ``low`` or ``high`` bound).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

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


CALIBRATED_ORIGIN = "calibrated.yaml"  # the origin of library values that `nelm-sim calibrate` replaced
POSTERIOR_PURPOSE = "posterior"  # after PSA_PURPOSE_PREFIX
GROUP_PURPOSE = "group."  # + the group's name, after PSA_PURPOSE_PREFIX
POSTERIOR_ROW = "posterior_row"  # psa_parameters.csv: the posterior draw a PSA draw took


@dataclass(frozen=True)
class PosteriorSample:
    """The equally weighted posterior draws of the calibrated parameters (columns ``name`` or ``name.field``)."""

    columns: tuple[str, ...]
    values: np.ndarray  # draws x columns
    description: str


def posterior_folder() -> Path:
    return Path(str(resources.files("simulator.params")))


@functools.cache
def load_posterior(folder: Path | None = None) -> PosteriorSample | None:
    """The library's posterior sample, or None when `nelm-sim calibrate --posterior` has not saved one."""
    from ..io import read_yaml

    folder = folder if folder is not None else posterior_folder()
    sample, header = folder / "posterior.csv", folder / "posterior.yaml"
    if not sample.exists() or not header.exists():
        return None
    lines = sample.read_text(encoding="utf-8").splitlines()
    columns = lines[0].split(",")[1:]  # the first column numbers the draws
    try:
        values = np.array([[float(x) for x in line.split(",")[1:]] for line in lines[1:] if line], dtype=float)
    except ValueError:
        raise UserInputError(f"{sample}: expected a numeric posterior sample (rewrite it with `nelm-sim calibrate --posterior`)") from None
    if values.ndim != 2 or values.shape[1] != len(columns) or len(values) == 0 or not np.isfinite(values).all():
        raise UserInputError(
            f"{sample}: expected one finite value per parameter on every row (rewrite it with `nelm-sim calibrate --posterior`)"
        )
    meta = read_yaml(header, what="posterior") or {}
    description = f"joint posterior sample ({len(values)} draws; {meta.get('method', 'see posterior.yaml')}; seed {meta.get('seed')}, {meta.get('date')})"
    return PosteriorSample(tuple(columns), values, description)


def _posterior_field(column: str) -> tuple[str, str]:
    """'disease.death_rate' -> (name, 'value'); 'natural_history.time_to_progression.median' -> (name, 'median')."""
    parts = column.split(".")
    return (".".join(parts[:2]), "value") if len(parts) == 2 else (".".join(parts[:2]), ".".join(parts[2:]))


def posterior_columns(params: ParameterSet, posterior: PosteriorSample | None) -> list[int]:
    """Indices of the posterior's columns that apply: a library's calibrated value the scenario neither
    overrode nor gave its own ``psa`` or ``psa_fixed``."""
    if posterior is None:
        return []
    used = []
    for index, column in enumerate(posterior.columns):
        name, _ = _posterior_field(column)
        entry = params.entries.get(name)
        if entry is not None and params.origins[name] == CALIBRATED_ORIGIN and entry.psa is None and not entry.psa_fixed:
            used.append(index)
    return used


def psa_status(params: ParameterSet, name: str, posterior: PosteriorSample | None = None) -> str:
    """How the PSA treats a parameter: its distribution with its provenance, or 'fixed: <reason>'."""
    entry = params.entries[name]
    if entry.psa is not None:
        return f"{entry.psa.describe()}; {entry.psa.provenance}"
    if posterior is not None and name in {_posterior_field(posterior.columns[i])[0] for i in posterior_columns(params, posterior)}:
        return posterior.description
    if entry.psa_fixed:
        return f"fixed: {entry.psa_fixed}"
    if entry.unit == "switch":
        return "fixed: a structural choice, compared as variants (scenarios/structural-variants.yaml), not drawn"
    if params.origins[name] == CALIBRATED_ORIGIN:
        return (
            "fixed: a calibrated point estimate; the library holds no posterior sample of it (`nelm-sim calibrate --posterior` writes one)"
        )
    return "fixed: no reason given"


def sampled_names(params: ParameterSet) -> list[str]:
    return [
        name for name in params.names() if params.entries[name].psa is not None and params.entries[name].psa.distribution != "dirichlet"
    ]


def drawn_columns(params: ParameterSet, posterior: PosteriorSample | None = None) -> list[str]:
    """The columns of psa_parameters.csv a draw fills: a value by its name, a distribution's drawn
    parameters as ``name.param``, the posterior's columns that apply (and the row taken)."""
    columns = []
    for name in params.names():
        spec = params.entries[name].psa
        if spec is None:
            continue
        if params.entries[name].value is not None:
            columns.append(name)
        else:
            columns.extend(f"{name}.{key}" for key in spec.parameters or [])
    used = posterior_columns(params, posterior)
    if used:
        assert posterior is not None
        columns.extend(posterior.columns[i] for i in used)
        columns.append(POSTERIOR_ROW)
    return columns


def dirichlet_groups(params: ParameterSet) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in params.names():
        spec = params.entries[name].psa
        if spec is not None and spec.distribution == "dirichlet":
            groups.setdefault(spec.group, []).append(name)  # type: ignore[arg-type]
    return groups


# A draw that makes its entry invalid (e.g. a normal draw of a Weibull shape below 0) is re-drawn
# from the same stream's next uniforms, up to this many times; past that the run stops with the
# parameter's name. Re-draws are counted in psa_parameters.csv (column psa_redraws).
MAX_REDRAWS = 100


def _uniforms(streams: RandomStreams, name: str, count: int, attempt: int = 0) -> np.ndarray:
    block = streams.block(PSA_PURPOSE_PREFIX + name, attempt // 64).ravel()
    start = (attempt % 64) * count
    return np.clip(block[start : start + count], *_OPEN)


def _valid(entry: ParameterEntry) -> bool:
    """Whether a drawn value lies in its unit's support. The PSA spec is left out: it describes the
    distribution around the library's value, and a beta's SE need not fit around every value it draws."""
    try:
        ParameterEntry.model_validate(entry.model_dump(exclude={"psa"}))
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


def _draw_group(params: ParameterSet, names: list[str], uniforms: np.ndarray) -> list[float]:
    """Dirichlet(count x share) over the members and the rest, by normalised gamma draws (each from its uniform)."""
    shares = np.array([float(params.entries[n].value) for n in names])  # type: ignore[arg-type]
    count = float(params.entries[names[0]].psa.count)  # type: ignore[union-attr, arg-type]
    rest = max(0.0, 1.0 - float(shares.sum()))
    alphas = np.append(shares, rest) * count
    gammas = np.array([float(special.gammaincinv(a, u)) if a > 0 else 0.0 for a, u in zip(alphas, uniforms)])
    total = gammas.sum()
    if not total > 0:  # every member at zero: a degenerate group keeps its values
        return [float(v) for v in shares]
    return [float(g / total) for g in gammas[: len(names)]]


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
    for group, names in dirichlet_groups(params).items():
        counts = {params.entries[n].psa.count for n in names}  # type: ignore[union-attr]
        if len(counts) > 1:
            raise UserInputError(f"psa.group {group}: expected one count for every member ({', '.join(names)}), got {sorted(counts)}")
        values = _draw_group(params, names, _uniforms(streams, GROUP_PURPOSE + group, len(names) + 1))
        for name, value in zip(names, values):
            updates[name] = params.entries[name].model_copy(update={"value": value})
            drawn[name] = value
    posterior = load_posterior()
    used = posterior_columns(params, posterior)
    if used:
        assert posterior is not None
        row = min(int(_uniforms(streams, POSTERIOR_PURPOSE, 1)[0] * len(posterior.values)), len(posterior.values) - 1)
        for index in used:
            name, key = _posterior_field(posterior.columns[index])
            value = float(posterior.values[row, index])
            entry = updates.get(name, params.entries[name])
            if key == "value":
                updates[name] = entry.model_copy(update={"value": value})
            else:
                updates[name] = entry.model_copy(update={"params": {**(entry.params or {}), key: value}})
            drawn[posterior.columns[index]] = value
        drawn[POSTERIOR_ROW] = row + 1  # as numbered in posterior.csv's draw column
    drawn["psa_redraws"] = redraws
    return replace_entries(params, updates), drawn


DSA_QUANTILES = (0.025, 0.975)  # bounds derived from a PSA distribution: its 95% interval


@dataclass(frozen=True)
class Bound:
    """One row of a one-way sensitivity analysis: ``name`` (``field`` 'value' or a distribution's
    parameter) from ``low`` to ``high``, and where that range comes from."""

    name: str
    field: str
    low: float
    high: float
    base: float
    source: str

    @property
    def label(self) -> str:
        return self.name if self.field == "value" else f"{self.name}.{self.field}"


def dsa_bounds(params: ParameterSet, posterior: PosteriorSample | None = None, scope: str = "all") -> list[Bound]:
    """The parameters a DSA varies, by label. A value with ``low``/``high`` keeps them; any other
    parameter with a PSA distribution is varied over that distribution's 95% interval (for most, the
    published 95% CI or plausible range it was built from), a share of a Dirichlet group over its beta
    marginal, a distribution entry over its drawn parameter's interval, and a calibrated parameter
    over its posterior's 2.5-97.5% quantiles. ``scope``: all, economic (valuation only) or clinical."""
    from ..economics.valuation import is_valuation_only

    bounds: list[Bound] = []
    for name in params.names():
        entry = params.entries[name]
        spec = entry.psa
        if entry.low is not None:
            bounds.append(Bound(name, "value", float(entry.low), float(entry.high), float(entry.value), str(entry.range_source)))  # type: ignore[arg-type]
        elif spec is None or spec.distribution == "mvnormal":
            continue
        elif entry.value is not None:
            if spec.distribution == "dirichlet":
                share, count = float(entry.value), float(spec.count)  # type: ignore[arg-type]
                low, high = (float(special.betaincinv(count * share, count * (1 - share), q)) for q in DSA_QUANTILES)
            else:
                low, high = (_draw_value(entry, q) for q in DSA_QUANTILES)
            bounds.append(Bound(name, "value", low, high, float(entry.value), f"95% interval of its PSA distribution ({spec.provenance})"))
        else:
            key = (spec.parameters or [""])[0]
            low, high = (_draw_distribution(entry, np.array([q]))[key] for q in DSA_QUANTILES)
            base = float(entry.params[key])  # type: ignore[index]
            bounds.append(Bound(name, key, low, high, base, f"95% interval of its PSA distribution ({spec.provenance})"))
    for index in posterior_columns(params, posterior):
        assert posterior is not None
        name, key = _posterior_field(posterior.columns[index])
        entry = params.entries[name]
        low, high = (float(np.quantile(posterior.values[:, index], q)) for q in DSA_QUANTILES)
        base = float(entry.value if key == "value" else entry.params[key])  # type: ignore[index, arg-type]
        bounds.append(Bound(name, key, low, high, base, f"2.5-97.5% quantiles of the posterior sample ({posterior.description})"))
    if scope != "all":
        bounds = [b for b in bounds if is_valuation_only(b.name) == (scope == "economic")]
    return sorted(bounds, key=lambda b: b.label)


def with_bound(params: ParameterSet, bound: Bound, value: float) -> ParameterSet:
    """The parameter set with the bound's value or distribution parameter set to ``value``."""
    if bound.field == "value":
        return with_value(params, bound.name, value)
    entry = params.entries[bound.name]
    return replace_entries(params, {bound.name: entry.model_copy(update={"params": {**(entry.params or {}), bound.field: float(value)}})})


def with_value(params: ParameterSet, name: str, value: float) -> ParameterSet:
    """The parameter set with one value entry replaced."""
    entry = params.entries[name]
    if entry.value is None:
        raise ValueError(f"{name} is a distribution, not a value")
    return replace_entries(params, {name: entry.model_copy(update={"value": float(value)})})
