"""The immutable parameter set a model run reads: the library files plus a scenario's overrides."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from ..errors import ScenarioError, did_you_mean
from ..io import read_yaml
from .distributions import TimeToEvent
from .schema import ParameterEntry

LIBRARY_PACKAGE = "simulator.params"


def library_folder() -> Path:
    return Path(str(resources.files(LIBRARY_PACKAGE).joinpath("library")))


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors(include_url=False)[0]
    field = ".".join(str(p) for p in error["loc"])
    message = str(error.get("msg", "a valid entry")).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        known = ", ".join(ParameterEntry.model_fields)
        message = f"no such key (known keys: {known})"
    elif error["type"] == "missing":
        message = "this required key"
    return f"{field}: {message}" if field else message


@lru_cache(maxsize=1)
def load_library() -> Mapping[str, tuple[ParameterEntry, str]]:
    """All parameter entries shipped with the package: name -> (entry, file name)."""
    entries: dict[str, tuple[ParameterEntry, str]] = {}
    for path in sorted(library_folder().glob("*.yaml")):
        data = read_yaml(path, what="parameter")
        if not isinstance(data, dict):
            raise ScenarioError(path, "", "a mapping of parameter names to entries")
        for name, raw in data.items():
            if name in entries:
                raise ScenarioError(path, name, f"a name not already defined in {entries[name][1]}")
            if not isinstance(raw, dict):
                raise ScenarioError(path, name, "a mapping with value or distribution, unit and source")
            try:
                entries[name] = (ParameterEntry.model_validate(raw), path.name)
            except ValidationError as exc:
                problem = _first_problem(exc)
                field, _, expected = problem.rpartition(": ")
                raise ScenarioError(path, f"{name}.{field}" if field else name, expected) from None
    _apply_calibration(entries)
    return entries


def calibrated_file() -> Path:
    return Path(str(resources.files(LIBRARY_PACKAGE).joinpath("calibrated.yaml")))


def _apply_calibration(entries: dict[str, tuple[ParameterEntry, str]]) -> None:
    """Replace library starting values by the values `nelm-sim calibrate` saved, keeping provenance."""
    path = calibrated_file()
    if not path.exists():
        return
    data = read_yaml(path, what="calibration") or {}
    for name, saved in (data.get("parameters") or {}).items():
        if name not in entries:
            raise ScenarioError(path, f"parameters.{name}", "a parameter of the library")
        entry, _ = entries[name]
        updated = entry.model_dump(exclude_none=True)
        if "value" in saved:
            updated["value"] = saved["value"]
        else:
            updated["params"] = {**(entry.params or {}), **saved["params"]}
        updated.pop("assumption", None)
        targets = ", ".join(saved.get("targets", []))
        updated["source"] = (
            f"calibrated by `nelm-sim calibrate` ({data.get('method', 'see docs/calibration.md')}) to targets: {targets};"
            f" fit report simulator/params/calibration_report.csv; starting value: {entry.provenance}"
        )
        try:
            entries[name] = (ParameterEntry.model_validate(updated), path.name)
        except ValidationError as exc:
            raise ScenarioError(path, f"parameters.{name}", _first_problem(exc)) from None


class _Lookup(dict):
    """Parameters of one kind by name; a name of the other kind is a TypeError, an unknown one a KeyError."""

    def __init__(self, kind: str, other_kind: str) -> None:
        super().__init__()
        self.kind, self.other_kind = kind, other_kind
        self.other: dict = {}

    def __missing__(self, name: str):
        if name in self.other:
            raise TypeError(f"parameter {name} is {self.other_kind}, not {self.kind}")
        raise KeyError(name)

    def __reduce__(self):
        state = (self.kind, self.other_kind)
        return (_Lookup, state, {"other": self.other}, None, iter(self.items()))


@dataclass(frozen=True)
class ParameterSet:
    """Resolved values and distributions by name, with each one's provenance."""

    entries: Mapping[str, ParameterEntry]
    origins: Mapping[str, str]
    _resolved: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    # Values and distributions apart, so that the hot path is one dict lookup with no type check.
    _values: _Lookup = field(init=False, repr=False, compare=False)
    _distributions: _Lookup = field(init=False, repr=False, compare=False)
    # value(name) and dist(name), the model's hottest reads: the dicts' own lookups, with no Python
    # frame in between. A name of the other kind is a TypeError, an unknown one a KeyError.
    value: Callable[[str], float] = field(init=False, repr=False, compare=False)
    dist: Callable[[str], TimeToEvent] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        values, distributions = _Lookup("a value", "a distribution"), _Lookup("a distribution", "a value")
        values.other, distributions.other = distributions, values
        for name, entry in self.entries.items():
            resolved = self._resolved[name] = entry.build()
            (distributions if isinstance(resolved, TimeToEvent) else values)[name] = resolved
        object.__setattr__(self, "_values", values)
        object.__setattr__(self, "_distributions", distributions)
        object.__setattr__(self, "value", values.__getitem__)
        object.__setattr__(self, "dist", distributions.__getitem__)

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def names(self) -> list[str]:
        return sorted(self.entries)

    def provenance_rows(self) -> list[dict[str, str]]:
        rows = []
        for name in self.names():
            entry = self.entries[name]
            if entry.value is not None:
                shown = f"{entry.value:g}"
            else:
                shown = f"{entry.distribution}(" + ", ".join(f"{k}={v}" for k, v in (entry.params or {}).items()) + ")"
            rows.append(
                {
                    "name": name,
                    "value": shown,
                    "unit": entry.unit,
                    "source": entry.provenance,
                    "file": self.origins[name],
                }
            )
        return rows


UNCERTAINTY_FIELDS = ("psa", "psa_fixed")  # a scenario may set either on any parameter, with or without a new value


def build_parameter_set(overrides: Mapping[str, Any] | None = None, scenario_file: Path | str = "scenario") -> ParameterSet:
    """The library with ``overrides`` applied; unknown names and bad values raise ScenarioError."""
    library = load_library()
    entries = {name: entry for name, (entry, _) in library.items()}
    origins = {name: origin for name, (_, origin) in library.items()}
    for name, override in (overrides or {}).items():
        field_path = f"parameters.{name}"
        if name not in entries:
            raise ScenarioError(
                scenario_file, field_path, "the name of a parameter listed by `nelm-sim params`" + did_you_mean(name, entries)
            )
        base = entries[name]
        data = base.model_dump(exclude_none=True)
        data.pop("value", None)
        data.pop("distribution", None)
        data.pop("params", None)
        uncertainty_only = False
        if isinstance(override, dict):
            unknown = set(override) - {"distribution", "params", "value", *UNCERTAINTY_FIELDS}
            if unknown:
                raise ScenarioError(
                    scenario_file, f"{field_path}.{sorted(unknown)[0]}", "only value, or distribution with params, and psa or psa_fixed"
                )
            if not override:
                raise ScenarioError(scenario_file, field_path, "a value, a distribution with params, or psa or psa_fixed", override)
            if "psa" in override and "psa_fixed" in override:
                raise ScenarioError(scenario_file, f"{field_path}.psa_fixed", "psa or psa_fixed (a reason for not drawing it), not both")
            uncertainty_only = not (set(override) - set(UNCERTAINTY_FIELDS))
            if uncertainty_only:
                data = base.model_dump(exclude_none=True)
            elif "psa" in override or "psa_fixed" in override:
                data.pop("psa", None)
                data.pop("psa_fixed", None)
            if isinstance(override.get("value"), bool) or not isinstance(override.get("value", 0), (int, float)):
                raise ScenarioError(scenario_file, f"{field_path}.value", "a number", override["value"])
            # The model reads each parameter as what the library declares it to be: a single value or a
            # distribution of times. An override of the other kind would only fail once simulating.
            if "distribution" in override and base.value is not None:
                raise ScenarioError(
                    scenario_file, f"{field_path}.distribution", "a single number (this parameter is a value, not a distribution)"
                )
            if "value" in override and base.value is None:
                raise ScenarioError(
                    scenario_file,
                    f"{field_path}.value",
                    f"a distribution with params (this parameter is a {base.distribution} distribution)",
                )
            if "psa" in override:
                data.pop("psa_fixed", None)
            if "psa_fixed" in override:
                data.pop("psa", None)
            data.update(override)
        elif isinstance(override, (int, float)) and not isinstance(override, bool):
            if base.value is None:
                raise ScenarioError(
                    scenario_file,
                    field_path,
                    f"a distribution with params (this parameter is a {base.distribution} distribution)",
                    override,
                )
            data["value"] = float(override)
        else:
            raise ScenarioError(scenario_file, field_path, "a number, or a distribution with params", override)
        if not uncertainty_only:  # a new value: its provenance is the scenario's; a new PSA spec carries its own
            data.pop("source", None)
            data["assumption"] = f"override in {Path(str(scenario_file)).name} (library: {base.provenance})"
        try:
            try:
                entries[name] = ParameterEntry.model_validate(data)
            except ValidationError:
                # A new value that the library's PSA distribution cannot be centred on (a beta whose SE
                # is too wide for a share near 0 or 1): kept fixed, with the reason, unless the scenario
                # gives its own distribution.
                if "psa" not in data or (isinstance(override, dict) and "psa" in override):
                    raise
                spec = base.psa.describe() if base.psa is not None else "its distribution"
                data = {key: item for key, item in data.items() if key != "psa"}
                data["psa_fixed"] = (
                    f"the library's PSA distribution, {spec}, does not fit the value set in {Path(str(scenario_file)).name}; give the override a psa to draw it"
                )
                entries[name] = ParameterEntry.model_validate(data)
        except ValidationError as exc:
            problem = _first_problem(exc)
            raise ScenarioError(scenario_file, field_path, problem.rpartition(": ")[2], override) from None
        if not uncertainty_only:
            origins[name] = Path(str(scenario_file)).name
    _check_consistency(entries, overrides or {}, scenario_file)
    return ParameterSet(entries, origins)


def _check_consistency(entries: Mapping[str, ParameterEntry], overrides: Mapping[str, Any], scenario_file: Path | str) -> None:
    """Rules that tie parameters together; reported at the first overridden parameter involved."""

    def fail(names: list[str], expected: str) -> None:
        named = next((n for n in names if n in overrides), names[0])
        raise ScenarioError(scenario_file, f"parameters.{named}", expected, overrides.get(named))

    for name, entry in entries.items():
        if not name.endswith(".max_sessions") or entry.value is None:
            continue
        prefix = name.removesuffix("max_sessions")
        defined = 0
        while f"{prefix}sessions_{defined + 1}" in entries:
            defined += 1
        limit = int(entry.value)
        if not 1 <= limit <= defined:
            fail([name], f"a whole number from 1 to {defined} (one {prefix}sessions_k share for each)")
        shares = [f"{prefix}sessions_{k}" for k in range(1, limit + 1)]
        if sum(entries[s].value or 0.0 for s in shares) <= 0:
            fail([*shares, name], f"shares {shares[0]}..{shares[-1]} that sum to more than 0")

    def value(name: str) -> float | None:
        return entries[name].value if name in entries else None

    ages = ("cohort.age_min", "cohort.age_max")
    youngest, oldest = (value(a) for a in ages)
    if youngest is not None and oldest is not None and youngest > oldest:
        fail(list(ages), "cohort.age_min <= cohort.age_max")
    # The burden model's conditions on the disease before entry (engine/cohort.py growth_deviates).
    within, stable = value("cohort.progressed_within_months"), value("cohort.stable_for_months")
    if within and stable and within <= stable:
        fail(["cohort.progressed_within_months", "cohort.stable_for_months"], "cohort.progressed_within_months > cohort.stable_for_months")
    if (within or stable) and value("tumour.indolent_share"):
        fail(
            ["cohort.progressed_within_months", "cohort.stable_for_months", "tumour.indolent_share"],
            "cohort.progressed_within_months and cohort.stable_for_months 0, or tumour.indolent_share 0 "
            "(the disease before entry is weighted on the single log-normal growth)",
        )


def life_table() -> dict[str, np.ndarray]:
    """ONS National life tables UK 2017-2019 qx by single year of age 0-100, per sex (see data/life_table_SOURCE.md)."""
    path = Path(str(resources.files(LIBRARY_PACKAGE).joinpath("data", "life_table.csv")))
    table: dict[str, list[tuple[int, float]]] = {"male": [], "female": []}
    for line in path.read_text(encoding="utf-8").splitlines()[1:]:
        age, sex, qx = line.split(",")
        table[sex].append((int(age), float(qx)))
    return {sex: np.array([q for _, q in sorted(rows)]) for sex, rows in table.items()}


@lru_cache(maxsize=1)
def life_table_hazard() -> dict[str, np.ndarray]:
    """Per sex, the constant other-cause hazard within each single year of age 0-100, -ln(1 - qx)
    (qx of 1 kept just below it, so that the last year's hazard is finite). Read-only arrays."""
    hazards = {}
    for sex, qx in life_table().items():
        hazard = -np.log1p(-np.minimum(qx, 1.0 - 1e-12))
        hazard.flags.writeable = False
        hazards[sex] = hazard
    return hazards
