"""Scenario analyses: the strategy comparison of a scenario repeated under named variants of it and
over a sweep of one or two parameters (README "Scenario analyses").

A variant is a set of overrides merged into the base scenario (mappings key by key, lists and
numbers replaced) and validated as a whole scenario file would be, so a bad variant gets the same
one-line error, with the field path naming the variant (``variants[1].parameters.x``). A sweep
point is the base with one (or two) parameter values set. Every run keeps the base's seed and
replications: random streams depend only on (seed, replication, patient, purpose), so variants and
strategies all see the same random numbers (common random numbers), and a variant that changes
nothing reproduces the base exactly.

Runs are independent, so they can be spread over worker processes; results are merged in run order,
which makes the outputs identical whatever the number of workers.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from pydantic import ValidationError

from ..capacity.schedule import DAYS_PER_WEEK, HOURS_PER_DAY
from ..config import BASE_VARIANT, Scenario, SweepAxis, VariantConfig, validation_error_to_scenario_error
from ..errors import ScenarioError, ScenarioWarning, UserInputError, did_you_mean
from ..params.parameter_set import ParameterSet, load_library
from ..params.schema import check_value
from .execution import Execution
from .prepare import PreparedScenario, prepare

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from .compare import Comparison

# The metrics, statistics, survival and comparison modules (pandas, scipy.stats, lifelines, SimPy) are
# imported by the functions that run or summarise: `validate` of a file with variants only expands it,
# and starts as fast as of any scenario (tests/test_startup.py).

DEFAULT_METRIC = "os_5y"
HOURS_PER_WEEK = HOURS_PER_DAY * DAYS_PER_WEEK  # a resource without a schedule is open all week
SCENARIO_COLUMNS = ["variant", "strategy", "metric", "estimate", "lower", "upper"]
MERGED_MAPPINGS = ("parameters", "economics")  # merged key by key; other top-level fields are replaced
COHORT_PREFIX = "cohort."

# Plain words for the cohort-mix parameters, for the report's "what changed".
COHORT_WORDS = {
    "cohort.male": "share of men",
    "cohort.primary_pancreas": "share with a pancreatic primary",
    "cohort.primary_small_bowel": "share with a small-bowel primary",
    "cohort.grade_g2": "share with G2 tumours",
    "cohort.grade_g3": "share with G3 tumours",
    "cohort.burden_25to50": "share with 25-50% hepatic tumour burden",
    "cohort.burden_gt50": "share with more than 50% hepatic tumour burden",
    "cohort.functional": "share with functional (hormone-secreting) tumours",
    "cohort.extrahepatic": "share with extrahepatic disease",
    "cohort.synchronous": "share with synchronous liver metastases",
    "cohort.ssr_positive": "share receptor positive (G1/G2)",
    "cohort.ssr_positive_g3": "share receptor positive (G3)",
    "cohort.age_mean": "mean age",
}
SHARE_UNITS = ("probability", "proportion")
CONTRAST_COLUMNS = [
    "variant",
    "strategy",
    "metric",
    "label",
    "unit",
    "contrast",
    "base_estimate",
    "variant_estimate",
    "estimate",
    "lower_95",
    "upper_95",
    "replications",
]

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ScenarioRun:
    """One run of the analysis: the base, a named variant or a sweep point, validated and prepared."""

    name: str
    kind: str  # "base", "variant" or "sweep"
    description: str
    field: str  # where it comes from in the file, for messages: "", "variants[1]", "sweep.values[2]"
    overrides: dict[str, Any]
    prepared: PreparedScenario
    sweep: tuple[tuple[str, float], ...] = ()  # (parameter, value) of a sweep point

    @property
    def strategies(self) -> list[str]:
        return [s.name for s in self.prepared.strategies]


@dataclass
class RunResult:
    run: ScenarioRun
    comparator: str
    summary: pd.DataFrame  # outcomes.comparison.COMPARISON_COLUMNS
    survival: pd.DataFrame  # Kaplan-Meier OS per strategy, replications pooled
    replications: int
    comparison: Comparison | None = None  # kept whole for the base only (its figures and report)
    per_replication: pd.DataFrame | None = None  # replication, strategy, metric, value (for paired contrasts)
    # Patients per strategy and replication, on average: the cohort size, or with an open population the
    # patients who arrived in the statistics window (the cohort size is a placeholder there).
    patients: float = math.nan
    # Mean costs, QALYs and life-years per (replication, strategy), valued with the run's own economics.
    economics: pd.DataFrame | None = None


@dataclass
class ScenarioAnalysis:
    path: Path
    base: Scenario
    runs: list[ScenarioRun]
    results: list[RunResult]
    metric: str
    comparator: str
    changes: dict[str, list[str]] = field(default_factory=dict)  # run name -> what changed, in words

    @property
    def base_result(self) -> RunResult:
        return self.results[0]

    @property
    def strategies(self) -> list[str]:
        """Every strategy of any run, in order of first appearance."""
        names: list[str] = []
        for run in self.runs:
            names += [s for s in run.strategies if s not in names]
        return names

    @property
    def sweep_axes(self) -> list[str]:
        return [name for name, _ in self.runs[-1].sweep] if self.runs[-1].kind == "sweep" else []

    def table(self) -> pd.DataFrame:
        """scenarios.csv: variant, strategy, metric, estimate, lower, upper (tidy, long)."""
        import pandas as pd

        frames = []
        for result in self.results:
            part = result.summary.rename(columns={"lower_95": "lower", "upper_95": "upper"})
            frames.append(part.assign(variant=result.run.name)[SCENARIO_COLUMNS])
        return pd.concat(frames, ignore_index=True)

    def contrasts_table(self) -> pd.DataFrame:
        """comparison.csv of the scenarios folder: each variant or sweep point against the base, per
        strategy and metric, paired replication by replication. The runs share their seed, so the
        same replication holds the same patients' random numbers in every run (common random
        numbers) and the paired interval is narrower than the two runs' own intervals. A difference
        (variant minus base) with a t-based 95% CI; a ratio (variant over base) for hazard ratios,
        on the log scale."""
        import pandas as pd

        from ..outcomes.metrics import LOG_SCALE_METRICS, metric_info
        from ..outcomes.replications import t_confidence_interval

        base = self.base_result.per_replication
        rows = []
        if base is None:
            return pd.DataFrame(columns=CONTRAST_COLUMNS)
        base_values = base.set_index(["strategy", "metric", "replication"])["value"]
        for result in self.results[1:]:
            other = result.per_replication
            if other is None:
                continue
            for (strategy, metric), part in other.groupby(["strategy", "metric"], sort=False):
                values = part.set_index("replication")["value"]
                key = [(strategy, metric, r) for r in values.index]
                paired = base_values.reindex(key).to_numpy(dtype=float)
                mine = values.to_numpy(dtype=float)
                keep = np.isfinite(paired) & np.isfinite(mine)
                if not keep.any():
                    continue
                label, unit, _ = metric_info(metric)
                if metric in LOG_SCALE_METRICS:
                    keep &= (paired > 0) & (mine > 0)
                    mean, lower, upper = (
                        math.exp(v) if not math.isnan(v) else math.nan
                        for v in t_confidence_interval(np.log(mine[keep]) - np.log(paired[keep]))
                    )
                    contrast, base_estimate, run_estimate = (
                        "ratio",
                        math.exp(np.log(paired[keep]).mean()),
                        math.exp(np.log(mine[keep]).mean()),
                    )
                else:
                    mean, lower, upper = t_confidence_interval(mine[keep] - paired[keep])
                    contrast, base_estimate, run_estimate = "difference", float(paired[keep].mean()), float(mine[keep].mean())
                rows.append(
                    {
                        "variant": result.run.name,
                        "strategy": strategy,
                        "metric": metric,
                        "label": label,
                        "unit": unit,
                        "contrast": contrast,
                        "base_estimate": base_estimate,
                        "variant_estimate": run_estimate,
                        "estimate": mean,
                        "lower_95": lower,
                        "upper_95": upper,
                        "replications": int(keep.sum()),
                    }
                )
        return pd.DataFrame(rows, columns=CONTRAST_COLUMNS)

    def economics_table(self) -> pd.DataFrame:
        """economics.csv of the scenarios folder: per run and strategy, mean discounted costs and QALYs
        per patient with their 95% CI over replications, and the incremental net benefit against the
        run's comparator at each of the run's willingness-to-pay values, paired replication by
        replication (common random numbers). Each run is valued with its own economic settings, so a
        variant's ``economics:`` override shows here; ``*_vs_base`` are the paired differences from the
        base run's same strategy."""
        import pandas as pd

        from ..economics.settings import EconomicSettings

        base = self.base_result.economics
        rows = []
        for result in self.results:
            values = result.economics
            if values is None:
                continue
            wtp = EconomicSettings.from_scenario(result.run.prepared.scenario).willingness_to_pay
            comparator = values[values["strategy"] == result.comparator].set_index("replication")
            for strategy, part in values.groupby("strategy", sort=False):
                part = part.set_index("replication")
                row: dict[str, object] = {
                    "variant": result.run.name,
                    "strategy": strategy,
                    "comparator": result.comparator,
                    "currency": result.run.prepared.scenario.economics.currency,
                    "replications": len(part),
                }
                for column in ("costs", "qalys"):
                    row[column], row[f"{column}_lower_95"], row[f"{column}_upper_95"] = _interval(part[column])
                for value in wtp:
                    inb = (part["qalys"] - comparator["qalys"]) * value - (part["costs"] - comparator["costs"])
                    label = f"inb_{value:g}"
                    row[label], row[f"{label}_lower_95"], row[f"{label}_upper_95"] = _interval(inb.dropna())
                if base is not None and strategy in set(base["strategy"]):
                    reference = base[base["strategy"] == strategy].set_index("replication")
                    for column in ("costs", "qalys"):
                        row[f"{column}_vs_base"] = float((part[column] - reference[column]).dropna().mean())
                rows.append(row)
        return pd.DataFrame(rows)

    def icer_table(self) -> pd.DataFrame:
        """icer.csv of the scenarios folder: each run's incremental analysis (dominance, extended dominance,
        ICERs) on its mean costs and QALYs, as `run` writes it, with the run's name in front, so that a
        structural or evidence variant shows how it moves each ICER."""
        import pandas as pd

        from ..economics.cea import icer_table
        from ..economics.settings import EconomicSettings

        parts = []
        for result in self.results:
            values = result.economics
            if values is None:
                continue
            means = values.groupby("strategy", sort=False)[["costs", "qalys"]].mean()
            wtp = EconomicSettings.from_scenario(result.run.prepared.scenario).willingness_to_pay
            table = icer_table(list(means.index), means["costs"].tolist(), means["qalys"].tolist(), wtp, result.comparator)
            table.insert(0, "variant", result.run.name)
            parts.append(table)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def variants_table(self) -> pd.DataFrame:
        """variants.csv: each run, what it is and what it changes, with its sweep coordinates."""
        import pandas as pd

        rows = []
        axes = self.sweep_axes
        for result in self.results:
            run = result.run
            row = {
                "variant": run.name,
                "kind": run.kind,
                "description": run.description,
                "changes": "; ".join(self.changes.get(run.name, [])),
                "strategies": ", ".join(run.strategies),
                "comparator": result.comparator,
                "patients": result.patients,
                "replications": result.replications,
                "horizon_months": run.prepared.scenario.horizon_months,
            }
            values = dict(run.sweep)
            for index, axis in enumerate(axes):
                row[f"sweep_parameter_{index + 1}"] = axis
                row[f"sweep_value_{index + 1}"] = values.get(axis, math.nan)
            rows.append(row)
        return pd.DataFrame(rows)

    def survival(self) -> pd.DataFrame:
        import pandas as pd

        return pd.concat([r.survival.assign(variant=r.run.name) for r in self.results], ignore_index=True)[
            ["variant", "strategy", "time_months", "survival", "lower_95", "upper_95", "at_risk"]
        ]

    def best_strategy(self, result: RunResult, metric: str | None = None) -> str | None:
        """The strategy with the best estimate of ``metric`` in one run (None when it has no direction)."""
        from ..outcomes.metrics import HIGHER_IS_BETTER, LOWER_IS_BETTER

        metric = metric or self.metric
        if metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
            return None
        part = result.summary[(result.summary["metric"] == metric)].dropna(subset=["estimate"])
        if part.empty:
            return None
        ordered = part.sort_values("estimate", ascending=metric in LOWER_IS_BETTER, kind="stable")
        return str(ordered.iloc[0]["strategy"])


# ---------------------------------------------------------------------------------------------
# Expanding a scenario into its runs


def _top_key(field_path: str) -> str:
    return field_path.split(".")[0].split("[")[0]


def _relocate(exc: ScenarioError, where: str, overridden: set[str], got: object = None) -> ScenarioError:
    """The error of a merged scenario, re-addressed to the variant or sweep point that caused it."""
    if where.startswith("variants[") and exc.field and _top_key(exc.field) in overridden:
        return ScenarioError(exc.file, f"{where}.{exc.field}", exc.expected, exc.got)
    at = f" (at {exc.field} once merged into the base scenario)" if exc.field else ""
    return ScenarioError(exc.file, where, f"{exc.expected}{at}", exc.got if got is None else got)


def merge_overrides(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The base scenario (as a dict) with ``overrides`` applied: ``cohort`` field by field and its
    ``mix``, ``parameters`` and ``economics`` key by key; anything else replaced. A ``cohort.*``
    value the overrides set wins over the base's, whether the base set it under ``cohort.mix`` or
    ``parameters``."""
    merged = copy.deepcopy(base)
    for key, value in overrides.items():
        if key == "cohort":
            for name, setting in value.items():
                if name == "mix":
                    merged["cohort"]["mix"] = {**merged["cohort"].get("mix", {}), **setting}
                    for share in setting:
                        merged.get("parameters", {}).pop(COHORT_PREFIX + share, None)
                else:
                    merged["cohort"][name] = setting
        elif key == "capacity":
            merged[key] = _deep_merge(merged.get(key) or {}, value)
        elif key in MERGED_MAPPINGS:
            merged[key] = {**(merged.get(key) or {}), **copy.deepcopy(value)}
            if key == "parameters":
                for name in value:
                    if name.startswith(COHORT_PREFIX):
                        merged["cohort"].get("mix", {}).pop(name.removeprefix(COHORT_PREFIX), None)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _deep_merge(base: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Mappings merged key by key at every level (capacity.resources.theatre.capacity...); lists and
    values replaced."""
    out = copy.deepcopy(base)
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _base_dict(scenario: Scenario) -> dict[str, Any]:
    data = scenario.model_dump()
    data["variants"] = None
    data["sweep"] = None
    return data


def _prepare_merged(base: dict[str, Any], overrides: dict[str, Any], path: Path, where: str, got: object = None) -> PreparedScenario:
    """Validate the merged scenario exactly as a scenario file, then prepare it (parameters, strategies)."""
    overridden = set(overrides)
    try:
        scenario = Scenario.model_validate(merge_overrides(base, overrides))
    except ValidationError as exc:
        error = validation_error_to_scenario_error(path, exc)
        raise (_relocate(error, where, overridden, got) if where else error) from None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ScenarioWarning)
        try:
            prepared = prepare(scenario, path)
        except ScenarioError as exc:
            if not where:
                raise
            raise _relocate(exc, where, overridden, got) from None
    for warning in caught:
        # A variant that keeps the base's strategies would only repeat the base's warnings.
        if issubclass(warning.category, ScenarioWarning) and (not where or "strategies" in overridden):
            text = str(warning.message)
            if where:
                text = text.replace(f"{path}: ", f"{path}: {where}.", 1)
            warnings.warn(ScenarioWarning(text), stacklevel=2)
        elif not issubclass(warning.category, ScenarioWarning):
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return prepared


def _axis_points(axis: SweepAxis, where: str, path: Path) -> list[tuple[str, float]]:
    """(field, value) of each value of a sweep axis, each checked against its parameter's unit."""
    library = load_library()
    if axis.parameter not in library:
        raise ScenarioError(path, f"{where}.parameter", "the name of a parameter listed by `nelm-sim params`", axis.parameter)
    entry, _ = library[axis.parameter]
    if entry.value is None:
        raise ScenarioError(
            path,
            f"{where}.parameter",
            f"a parameter with a single value ({axis.parameter} is a {entry.distribution} distribution)",
            axis.parameter,
        )

    def check(field_path: str, value: float) -> None:
        try:
            check_value(entry.unit, value)
        except ValueError as exc:
            raise ScenarioError(path, field_path, f"{exc} for {axis.parameter}", value) from None

    if axis.values is not None:
        fields = [f"{where}.values[{k}]" for k in range(len(axis.values))]
    else:
        check(f"{where}.from", float(axis.from_))  # type: ignore[arg-type]
        check(f"{where}.to", float(axis.to))  # type: ignore[arg-type]
        fields = [f"{where}.steps" for _ in range(int(axis.steps))]  # type: ignore[arg-type]
    points = list(zip(fields, axis.points()))
    for field_path, value in points:
        check(field_path, value)
    return points


def _parameter_override(base: Scenario, name: str, value: float) -> dict[str, Any]:
    """Overrides that set one parameter; a cohort share the base sets under cohort.mix stays there."""
    if name.startswith(COHORT_PREFIX) and name.removeprefix(COHORT_PREFIX) in base.cohort.mix:
        return {"cohort": {"mix": {name.removeprefix(COHORT_PREFIX): value}}}
    return {"parameters": {name: value}}


def _combine(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(first)
    for key, value in second.items():
        if key == "cohort":
            out.setdefault("cohort", {}).setdefault("mix", {}).update(value["mix"])
        else:
            out.setdefault(key, {}).update(value)
    return out


def point_name(values: list[tuple[str, float]]) -> str:
    return ", ".join(f"{name}={value:.10g}" for name, value in values)


def variant_overrides(variant: VariantConfig) -> dict[str, Any]:
    """What a variant sets: its fields other than name and description that are neither absent nor
    empty. (Not pydantic's exclude_unset: a scenario re-validated after --seed or --patients has
    every field set.)"""
    data = variant.model_dump(exclude={"name", "description"})
    if data.get("cohort") is not None:
        data["cohort"] = {k: v for k, v in data["cohort"].items() if v is not None and v != {}}
    return {k: v for k, v in data.items() if v is not None and v != {}}


def expand(scenario: Scenario, path: Path | str) -> list[ScenarioRun]:
    """The base, then every variant in file order, then every sweep point (the first parameter
    varying slowest), each validated and prepared. Bad input raises a one-line ScenarioError."""
    path = Path(path)
    base = _base_dict(scenario)
    runs = [ScenarioRun(BASE_VARIANT, "base", scenario.description, "", {}, _prepare_merged(base, {}, path, ""))]
    for index, variant in enumerate(scenario.variants or []):
        where = f"variants[{index}]"
        overrides = variant_overrides(variant)
        runs.append(
            ScenarioRun(variant.name, "variant", variant.description, where, overrides, _prepare_merged(base, overrides, path, where))
        )
    if scenario.sweep is not None:
        axes = [("sweep", scenario.sweep)] + ([("sweep.second", scenario.sweep.second)] if scenario.sweep.second is not None else [])
        grids = [[(axis.parameter, where_value, value) for where_value, value in _axis_points(axis, where, path)] for where, axis in axes]
        cells = [[cell] for cell in grids[0]] if len(grids) == 1 else [[a, b] for a in grids[0] for b in grids[1]]
        for cell in cells:
            overrides: dict[str, Any] = {}
            for parameter, _, value in cell:
                overrides = _combine(overrides, _parameter_override(scenario, parameter, value))
            # A point given in a list is named by its index; one of from/to/steps, or of a grid, by its value too.
            where = " x ".join(
                where_value if len(cell) == 1 and where_value.endswith("]") else f"{where_value} (value {value:.10g})"
                for _, where_value, value in cell
            )
            coordinates = tuple((parameter, value) for parameter, _, value in cell)
            name = point_name(list(coordinates))
            prepared = _prepare_merged(base, overrides, path, where, got=cell[0][2] if len(cell) == 1 else None)
            runs.append(ScenarioRun(name, "sweep", f"sweep point {name}", where, overrides, prepared, coordinates))
    return runs


# ---------------------------------------------------------------------------------------------
# What changed, in words


def _shown(params: ParameterSet, name: str) -> str:
    entry = params.entries[name]
    if entry.value is None:
        return (
            f"{entry.distribution}("
            + ", ".join(f"{k}={v:.4g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in (entry.params or {}).items())
            + ")"
        )
    if entry.unit in SHARE_UNITS:
        return f"{100 * entry.value:.3g}%"
    return f"{entry.value:.4g}"


def _same_entry(a, b) -> bool:
    return (a.value, a.distribution, a.params) == (b.value, b.distribution, b.params)


def _capacity_changes(a: Scenario, b: Scenario) -> list[str]:
    """What a variant changes in the capacity section, per resource and for the arrivals."""
    if a.capacity == b.capacity:
        return []
    if a.capacity is None or b.capacity is None:
        return ["capacity section added" if a.capacity is None else "capacity section removed"]
    changes = []
    before, after = a.capacity.resources.configured(), b.capacity.resources.configured()
    for name in dict.fromkeys([*before, *after]):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        if old is None or new is None:
            changes.append(
                f"{name} {'unlimited' if new is None else f'capacity {new.capacity}'} instead of {'unlimited' if old is None else f'capacity {old.capacity}'}"
            )
            continue
        if old.capacity != new.capacity:
            changes.append(f"{name} capacity {new.capacity} instead of {old.capacity}")
        if old.schedule != new.schedule:
            hours = lambda cfg: sum(s.hours for s in cfg.schedule) if cfg.schedule else HOURS_PER_WEEK  # noqa: E731 - hours open a week
            changes.append(f"{name} open {hours(new):g} hours a week instead of {hours(old):g}")
    if a.capacity.arrivals != b.capacity.arrivals:
        changes.append("arrivals changed")
    return changes


def describe_changes(base: PreparedScenario, other: PreparedScenario) -> list[str]:
    """What ``other`` does differently from ``base``, one plain sentence fragment per change."""
    changes = []
    a, b = base.scenario, other.scenario
    if a.cohort.size != b.cohort.size:
        changes.append(f"{b.cohort.size:,} patients per strategy and replication instead of {a.cohort.size:,}")
    if a.cohort.age != b.cohort.age:
        before = f"all aged {a.cohort.age:g}" if a.cohort.age is not None else "ages drawn from the cohort parameters"
        after = f"all aged {b.cohort.age:g}" if b.cohort.age is not None else "ages drawn from the cohort parameters"
        changes.append(f"patients {after} instead of {before}")
    if a.horizon_months != b.horizon_months:
        changes.append(f"a horizon of {b.horizon_months:g} months instead of {a.horizon_months:g}")
    names_a, names_b = [s.name for s in base.strategies], [s.name for s in other.strategies]
    if base.strategies != other.strategies:
        changes.append(
            f"strategies {', '.join(names_b)} instead of {', '.join(names_a)}"
            if names_a != names_b
            else "strategies redefined (same names, other rules)"
        )
    changes += _capacity_changes(a, b)
    econ_a, econ_b = a.economics.model_dump(), b.economics.model_dump()
    for key in econ_a:
        if econ_a[key] != econ_b[key]:
            changes.append(f"economics {key} {econ_b[key]} instead of {econ_a[key]}")
    for name in sorted(base.params.entries):
        if not _same_entry(base.params.entries[name], other.params.entries[name]):
            words = COHORT_WORDS.get(name, name)
            label = f"{words} ({name})" if words != name else name
            entry = other.params.entries[name]
            unit = f" ({entry.unit.replace('_', ' ')})" if entry.value is not None and entry.unit not in SHARE_UNITS else ""
            changes.append(f"{label}: {_shown(other.params, name)} instead of {_shown(base.params, name)}{unit}")
    return changes


# ---------------------------------------------------------------------------------------------
# Running


def _interval(values: pd.Series) -> tuple[float, float, float]:
    """Mean and t-based 95% CI over replications (no interval from one replication)."""
    from ..outcomes.replications import t_confidence_interval

    return t_confidence_interval(values.astype(float).tolist())


def _run_one(run: ScenarioRun, comparator: str, keep_whole: bool, progress: Progress | None = None) -> RunResult:
    from ..outcomes.survival import survival_table
    from .compare import run_comparison

    comparison = run_comparison(run.prepared, comparator, progress=progress, value=True)
    curves = survival_table(comparison.patients, comparison.strategies)
    arms = comparison.patients.groupby(["replication", "strategy"], observed=True).size()
    return RunResult(
        run,
        comparator,
        comparison.summary,
        curves,
        comparison.replications,
        comparison if keep_whole else None,
        comparison.per_replication,
        float(arms.mean()) if len(arms) else math.nan,
        comparison.economics,
    )


def _comparator_for(run: ScenarioRun, chosen: str) -> str:
    """The chosen comparator, or the run's first strategy when a variant does without it."""
    return chosen if chosen in run.strategies else run.strategies[0]


def _run_task(task: tuple) -> RunResult:
    """A run for a worker."""
    run, comparator, keep_whole = task
    return _run_one(run, comparator, keep_whole)


def run_analysis(
    scenario: Scenario,
    path: Path | str,
    runs: list[ScenarioRun] | None = None,
    comparator: str | None = None,
    metric: str = DEFAULT_METRIC,
    workers: int = 1,
    progress: Progress | None = None,
) -> ScenarioAnalysis:
    """Run every run x every strategy over the scenario's replications; ``workers`` processes."""
    from .compare import resolve_comparator

    path = Path(path)
    check_metric(metric)
    runs = runs if runs is not None else expand(scenario, path)
    check_metric_named_thing(metric, runs)
    chosen = resolve_comparator(runs[0].prepared, comparator)
    steps = [run.prepared.scenario.replications * len(run.strategies) for run in runs]
    total = sum(steps)
    results: list[RunResult] = []
    if workers <= 1 or len(runs) <= 1:
        offset = 0
        for index, run in enumerate(runs):

            def _tick(done: int, _total: int, label: str, start: int = offset, name: str = run.name) -> None:
                if progress is not None:
                    progress(start + done, total, f"{name}: {label}")

            results.append(_run_one(run, _comparator_for(run, chosen), index == 0, _tick))
            offset += steps[index]
    else:
        done = [0]

        def _finished(index: int, outcome: RunResult) -> None:
            done[0] += steps[index]
            if progress is not None:
                progress(done[0], total, f"{runs[index].name} done")

        tasks = [(run, _comparator_for(run, chosen), index == 0) for index, run in enumerate(runs)]
        results = Execution(workers=workers).map(_run_task, tasks, _finished)
    analysis = ScenarioAnalysis(path, scenario, runs, results, metric, chosen)
    analysis.changes = {run.name: describe_changes(runs[0].prepared, run.prepared) for run in runs}
    return analysis


def check_metric_named_thing(metric: str, runs: list[ScenarioRun]) -> None:
    """A metric named by a pattern must name something these runs have: a configured resource for the
    wait and utilisation metrics, a procedure or treatment for the others (checked before any run)."""
    from ..pathways import MODALITIES, procedure_kinds

    resources = {
        name
        for run in runs
        if run.prepared.scenario.capacity is not None
        for name, config in run.prepared.scenario.capacity.resources.configured().items()
        if config is not None
    }
    families = {
        "wait_mean_days_": ("a resource configured under capacity.resources", resources),
        "wait_p90_days_": ("a resource configured under capacity.resources", resources),
        "utilisation_": ("a resource configured under capacity.resources", resources),
        "procedures_": ("a procedure", set(procedure_kinds())),
        "months_on_": ("a treatment", set(MODALITIES)),
    }
    for prefix, (what, known) in families.items():
        if metric.startswith(prefix) and metric.removeprefix(prefix) not in known:
            named = metric.removeprefix(prefix)
            choices = ", ".join(sorted(known)) or "none in this scenario"
            raise UserInputError(f"--metric {metric}: expected {prefix}<{what}> ({choices}), got {named!r}{did_you_mean(named, known)}")


def check_metric(metric: str) -> None:
    """A declared metric, or one named by a pattern (wait_p90_days_theatre, procedures_tace, ...); whether
    the scenario produces it is checked once its runs are known."""
    from ..outcomes.metrics import METRICS, metric_info

    if metric not in METRICS and metric_info(metric)[2] == "other":
        known = ", ".join(METRICS)
        raise UserInputError(
            f"--metric: expected one of {known}, or a per-resource or per-treatment metric such as wait_p90_days_theatre, "
            f"got {metric!r}{did_you_mean(metric, METRICS)}"
        )


def metric_label(metric: str) -> str:
    from ..outcomes.metrics import metric_info

    label, unit, _ = metric_info(metric)
    return f"{label} ({unit})" if unit else label
