"""Scenario files: safe YAML loading into frozen, validated config objects.

Nothing in a scenario file is executed: the loader accepts plain YAML scalars, lists and mappings
only (no tags that construct objects, no anchors or aliases, bounded depth and size), and every
mapping is validated by a pydantic model that rejects unknown keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator, model_validator
from pydantic_core import ErrorDetails

from .errors import ScenarioError, did_you_mean
from .io import read_yaml

# Limits that keep a hand-edited file from exhausting the machine; README "Errors and limits"
# (the file's size and nesting depth: io.read_yaml).
# A cohort streams through summary mode in bounded memory, so its size is bounded by time, not memory.
MAX_PATIENTS = 10_000_000
MAX_REPLICATIONS = 1_000
MAX_HORIZON_MONTHS = 1_200.0  # 100 years: the life table ends at age 100 anyway
# The default horizon, ``lifetime``: long enough for every patient to reach age 100 (the life
# table's end; the youngest entry age allowed is 18, so 984 months would do). The valuation stops
# each patient at age 100 (economics/population.py), so this is a lifetime horizon to age 100.
LIFETIME = "lifetime"
LIFETIME_HORIZON_MONTHS = MAX_HORIZON_MONTHS
# cohort.size x replications x strategies: a run keeps every event in memory (about 12 KB per
# simulated lifetime), so 500,000 lifetimes need about 6 GB. Checked by ``check_total_work`` for
# every run that keeps its event log (all but summary mode).
MAX_SIMULATED_LIFETIMES = 500_000
# Summary mode keeps about 25 bytes per lifetime; this bound is one of time (several hours on a laptop).
MAX_SUMMARY_LIFETIMES = 100_000_000
# A PSA keeps only each draw's means, so like summary mode its total work (psa_draws x psa_patients x
# strategies) is bounded by time: the same several hours on a laptop. Each draw, however, simulates
# its cohort with its event log in memory before valuing it, so one draw (psa_patients x strategies)
# obeys MAX_SIMULATED_LIFETIMES, the bound of a run that keeps its event log.
MAX_PSA_LIFETIMES = MAX_SUMMARY_LIFETIMES
# 100,000 draws put the Monte Carlo error of a mean far below anything a decision turns on; the
# checkpoint holds one small file per draw, and a folder of 100,000 files is still quick to list.
MAX_PSA_DRAWS = 100_000
MAX_SEED = 2**63 - 1  # numpy's SeedSequence takes any integer; this keeps the seed a signed 64-bit integer in every output

ATTRIBUTE_VALUES: dict[str, tuple[str, ...]] = {
    "sex": ("male", "female"),
    "primary_site": ("small_bowel", "pancreas", "other"),
    "grade": ("G1", "G2", "G3"),
    "burden": ("lt25", "25to50", "gt50"),
    "syndrome": ("none", "carcinoid", "other"),
}
BOOLEAN_ATTRIBUTES = ("functional", "extrahepatic", "synchronous", "resectable", "ssr_positive")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# Strict: true/false is not taken for 1/0, nor 2.0 or "2" for a whole number.
FiniteFloat = Annotated[float, Field(allow_inf_nan=False, strict=True)]
# Months, or the word ``lifetime`` (a validator turns it into LIFETIME_HORIZON_MONTHS): the JSON Schema
# says both, so that an editor does not flag the word that validate accepts.
HorizonMonths = Annotated[
    FiniteFloat,
    Field(gt=0, le=MAX_HORIZON_MONTHS),
    WithJsonSchema(
        {
            "anyOf": [{"type": "number", "exclusiveMinimum": 0, "maximum": MAX_HORIZON_MONTHS}, {"const": LIFETIME}],
            "description": f"months simulated, or '{LIFETIME}': to age 100 ({MAX_HORIZON_MONTHS:g} months)",
        }
    ),
]
Flag = Annotated[bool, Field(strict=True)]
Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class RuleCondition(Strict):
    """When a rule applies. Every given field must hold; an absent field does not constrain."""

    sex: Literal["male", "female"] | None = None
    primary_site: list[Literal["small_bowel", "pancreas", "other"]] | None = None
    grade: list[Literal["G1", "G2", "G3"]] | None = None
    burden: list[Literal["lt25", "25to50", "gt50"]] | None = None
    functional: Flag | None = None
    extrahepatic: Flag | None = None
    synchronous: Flag | None = None
    resectable: Flag | None = None
    ssr_positive: Flag | None = None
    symptoms_uncontrolled: Flag | None = None
    line: Annotated[int, Field(ge=1, le=50, strict=True)] | None = None
    min_line: Annotated[int, Field(ge=1, le=50, strict=True)] | None = None
    max_line: Annotated[int, Field(ge=1, le=50, strict=True)] | None = None
    after: list[str] | None = None
    not_after: list[str] | None = None
    progressed_on: list[str] | None = None
    min_months: Annotated[FiniteFloat, Field(ge=0)] | None = None
    max_months: Annotated[FiniteFloat, Field(ge=0)] | None = None

    @field_validator("primary_site", "grade", "burden", "after", "not_after", "progressed_on", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Rule(Strict):
    treatment: str
    when: RuleCondition = RuleCondition()
    max_uses: Annotated[int, Field(ge=1, le=50, strict=True)] | None = None
    # The rule applies to this share of patients only, e.g. the share of a trial arm reported to have
    # received the treatment after progression. Each patient draws one uniform per treatment (the same
    # in every strategy) and the rule applies when it is below the share.
    share: Annotated[FiniteFloat, Field(gt=0, le=1)] | None = None
    note: str = ""


class StrategyConfig(Strict):
    name: Name
    description: str = ""
    rules: Annotated[list[Rule], Field(min_length=1, max_length=100)] | None = None
    # Add telotristat when carcinoid-syndrome symptoms relapse on a somatostatin analogue.
    telotristat: Flag | None = None


MAX_PRIOR_TREATMENTS = 20


class CohortConfig(Strict):
    size: Annotated[int, Field(ge=1, le=MAX_PATIENTS, strict=True)]
    # Overrides of the default cohort mix (parameter names under ``cohort.``), see params/library/cohort.yaml.
    mix: dict[str, Annotated[FiniteFloat, Field(ge=0, le=1)]] = {}
    age: Annotated[FiniteFloat, Field(ge=18, le=100)] | None = None
    # Treatments every patient had before entry (a trial's prior lines): rules' after / not_after see
    # them and a somatostatin analogue after one is a rechallenge; they are not lines of the model.
    prior_treatments: Annotated[list[str], Field(max_length=MAX_PRIOR_TREATMENTS)] = []


ParameterValue = FiniteFloat | dict[str, Any]

# Health-economics defaults: the NICE reference case (NICE health technology evaluations: the manual,
# PMG36, 2022): NHS and personal social services perspective, costs and effects discounted at 3.5% a
# year, and the 20,000-30,000 GBP per QALY range NICE normally considers cost effective.
NICE_DISCOUNT_RATE = 0.035
NICE_WILLINGNESS_TO_PAY = (20_000.0, 30_000.0)
MAX_WTP_VALUES = 50
# Far above any threshold an appraisal uses, and far enough below float overflow that net monetary
# benefit (WTP x QALYs - costs) and its sums over draws and populations stay finite.
MAX_WILLINGNESS_TO_PAY = 1e9
MAX_DECISION_POPULATION = 1e10  # more people than live on earth


class OwnCost(Strict):
    """A cost of the scenario's own table with its provenance (like a parameter-file entry)."""

    value: Annotated[FiniteFloat, Field(ge=0)]
    source: Annotated[str, Field(min_length=1)] | None = None
    assumption: Annotated[str, Field(min_length=1)] | None = None

    @model_validator(mode="after")
    def _provenance(self) -> OwnCost:
        if not (self.source or self.assumption):
            raise ValueError("a 'source' or an 'assumption' with a reason for the cost")
        return self


SUBGROUPS = ("primary_site", "grade", "resectable")  # patient traits at entry that economic tables split by
LIBRARY_CURRENCY = "GBP"


class EconomicsConfig(Strict):
    """Costs and QALYs (README "Health economics"). Every field is optional."""

    # ISO 4217 code. Another currency than the library's needs every cost the scenario uses in
    # ``costs`` (checked before any simulation: economics/prices.py).
    currency: str = LIBRARY_CURRENCY
    # The price year every cost is inflated to (2024 = 2024/25 prices); default: the latest year of the
    # NHS cost inflation index shipped with the library. Costs in ``costs`` are taken to be in it.
    price_year: Annotated[int, Field(ge=1990, le=2100, strict=True)] | None = None
    # The scenario's own cost table: parameter names (cost.*) and values in ``currency`` at ``price_year``.
    # Each a number, or {value, source} / {value, assumption}.
    costs: dict[str, Annotated[FiniteFloat, Field(ge=0)] | OwnCost] = {}
    # Utilities multiplied by the general population's utility at each age relative to the age of the
    # population they were measured in (NICE DSU TSD 12); false: the library values as they are.
    age_adjusted_utilities: Flag = True
    # Patient traits at entry by which economics.csv and icer.csv add rows (also `run --by`).
    subgroups: list[Literal["primary_site", "grade", "resectable"]] = []
    perspective: Literal["nhs_pss"] = "nhs_pss"
    discount_rate_costs: Annotated[FiniteFloat, Field(ge=0, lt=1)] = NICE_DISCOUNT_RATE
    discount_rate_effects: Annotated[FiniteFloat, Field(ge=0, lt=1)] = NICE_DISCOUNT_RATE
    willingness_to_pay: Annotated[
        list[Annotated[FiniteFloat, Field(ge=0, le=MAX_WILLINGNESS_TO_PAY)]], Field(min_length=1, max_length=MAX_WTP_VALUES)
    ] = list(NICE_WILLINGNESS_TO_PAY)
    # The reference strategy for incremental net monetary benefit and the DSA tornado
    # (default: the least costly strategy).
    comparator: Name | None = None
    # Patients affected by the decision, for population EVPI (default: from the economics.* parameters).
    population: Annotated[FiniteFloat, Field(gt=0, le=MAX_DECISION_POPULATION)] | None = None
    # PSA run design: draws and patients per strategy in each draw (one replication per draw).
    # A few hundred patients keep 200 draws of six strategies to about a minute on two cores;
    # more patients lower the first-order (patient-level) noise in each draw.
    psa_draws: Annotated[int, Field(ge=1, le=MAX_PSA_DRAWS)] = 1000
    psa_patients: Annotated[int, Field(ge=1, le=MAX_PATIENTS)] = 250
    # Willingness-to-pay grid of the acceptability curves (CEAC, CEAF) and the EVPI curve.
    ceac_wtp_max: Annotated[FiniteFloat, Field(gt=0, le=MAX_WILLINGNESS_TO_PAY)] = 100_000.0
    ceac_wtp_points: Annotated[int, Field(ge=2, le=10_000)] = 101

    @field_validator("willingness_to_pay")
    @classmethod
    def _increasing(cls, value: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(value, value[1:])):
            raise ValueError("willingness-to-pay values in increasing order, each once")
        return value

    def cost_values(self) -> dict[str, float]:
        return {name: float(cost.value if isinstance(cost, OwnCost) else cost) for name, cost in self.costs.items()}

    def cost_provenance(self, name: str, file: str) -> str:
        cost = self.costs[name]
        if isinstance(cost, OwnCost):
            return cost.source or f"assumption: {cost.assumption}"
        return f"assumption: the cost table of {file} (economics.costs)"

    @field_validator("currency")
    @classmethod
    def _currency_code(cls, value: str) -> str:
        if len(value) != 3 or not value.isascii() or not value.isalpha() or not value.isupper():
            raise ValueError("a three-letter ISO 4217 currency code in capitals, e.g. GBP or EUR")
        return value

    @field_validator("subgroups")
    @classmethod
    def _subgroups_once(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("each subgroup once")
        return value

    @model_validator(mode="after")
    def _currency_needs_price_year(self) -> EconomicsConfig:
        if self.currency != LIBRARY_CURRENCY and self.price_year is None:
            raise ScenarioFieldError(
                "economics.price_year", f"the price year of the scenario's costs (required with a currency other than {LIBRARY_CURRENCY})"
            )
        return self


# Scenario analyses (README "Scenario analyses"): named variants of the base scenario and a sweep of
# one or two parameters. Each variant or sweep point is a whole strategy comparison, so their number
# is bounded like the other sizes: 200 runs of a small cohort take minutes, not hours.
MAX_VARIANTS = 50
MAX_SWEEP_VALUES = 50
MAX_SCENARIO_RUNS = 200  # the base + variants + sweep points (a two-parameter grid counts every cell)
BASE_VARIANT = "base"  # the name the base scenario has among its variants


def _strategy_names_to_configs(value: Any) -> Any:
    if isinstance(value, list):
        return [{"name": item} if isinstance(item, str) else item for item in value]
    return value


# ---------------------------------------------------------------------------------------------
# Capacity planning (README "Capacity planning"): open-population arrivals and shared hospital resources.

RESOURCE_NAMES = ("mdt", "theatre", "ir_suite", "beds", "day_unit", "nuclear_medicine")
MAX_RESOURCE_CAPACITY = 10_000
MAX_SCHEDULE_SESSIONS = 50
MAX_ARRIVAL_YEARS = 100.0
MAX_CATCHMENT = 2_000_000_000  # more than any country's population served by one centre


class SessionConfig(Strict):
    """One weekly opening session: day of the week, start hour (0-24, decimals allowed) and length in hours."""

    day: Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    start: Annotated[FiniteFloat, Field(ge=0, lt=24)]
    hours: Annotated[FiniteFloat, Field(gt=0, le=168)]  # at most a whole week (7 x 24 hours)


class ResourceConfig(Strict):
    """A hospital resource: how many units work in parallel, and when new work may start (default: always)."""

    capacity: Annotated[int, Field(ge=1, le=MAX_RESOURCE_CAPACITY, strict=True)]
    schedule: Annotated[list[SessionConfig], Field(min_length=1, max_length=MAX_SCHEDULE_SESSIONS)] | None = None


class ResourcesConfig(Strict):
    """The resources a scenario constrains; one left out is unlimited (no queue)."""

    mdt: ResourceConfig | None = None  # multidisciplinary team meeting: one case discussed at a time per unit
    theatre: ResourceConfig | None = None  # operating theatres: hepatectomy, transplant
    ir_suite: ResourceConfig | None = None  # interventional radiology: ablation, TAE, TACE, Y-90
    beds: ResourceConfig | None = None  # hospital beds: the length of stay after a procedure
    day_unit: ResourceConfig | None = None  # day-unit chairs / clinic slots: somatostatin-analogue injections
    nuclear_medicine: ResourceConfig | None = None  # PRRT administration slots

    def configured(self) -> dict[str, ResourceConfig]:
        return {name: getattr(self, name) for name in RESOURCE_NAMES if getattr(self, name) is not None}


class ArrivalsConfig(Strict):
    """Open population: patients arrive over calendar time instead of all at time 0 (cohort.size is not
    used). The rate is catchment_population x the arrivals.* incidence parameters."""

    catchment_population: Annotated[int, Field(ge=1, le=MAX_CATCHMENT, strict=True)]
    years: Annotated[FiniteFloat, Field(gt=0, le=MAX_ARRIVAL_YEARS)]  # arrivals counted in the statistics
    warmup_years: Annotated[FiniteFloat, Field(ge=0, le=MAX_ARRIVAL_YEARS)] = 0.0  # arrivals before, left out


class CapacityConfig(Strict):
    arrivals: ArrivalsConfig | None = None
    resources: ResourcesConfig = ResourcesConfig()


class VariantCohort(Strict):
    """The fields of ``cohort`` a variant may change; ``mix`` entries are merged into the base's mix."""

    size: Annotated[int, Field(ge=1, le=MAX_PATIENTS, strict=True)] | None = None
    mix: dict[str, Annotated[FiniteFloat, Field(ge=0, le=1)]] = {}
    age: Annotated[FiniteFloat, Field(ge=18, le=100)] | None = None


class VariantConfig(Strict):
    """A named set of overrides of the base scenario. Mappings (cohort.mix, parameters, economics) are
    merged into the base's, key by key; strategies and horizon_months replace the base's. The seed
    and the replications are the base's, so every variant sees the same random numbers."""

    name: Name
    description: str = ""
    cohort: VariantCohort | None = None
    horizon_months: HorizonMonths | None = None
    strategies: Annotated[list[StrategyConfig], Field(min_length=1, max_length=50)] | None = None
    parameters: dict[str, ParameterValue] = {}
    economics: dict[str, Any] = {}

    @field_validator("horizon_months", mode="before")
    @classmethod
    def _lifetime(cls, value: Any) -> Any:
        return LIFETIME_HORIZON_MONTHS if value == LIFETIME else value  # checked field by field once merged into the base's economics

    capacity: dict[str, Any] = {}  # merged into the base's capacity (resources by name), checked once merged

    @field_validator("strategies", mode="before")
    @classmethod
    def _names_to_configs(cls, value: Any) -> Any:
        return _strategy_names_to_configs(value)


class SweepAxis(Strict):
    """One swept parameter: its values as a list, or ``from``/``to`` in ``steps`` evenly spaced values."""

    # ``from`` is a Python keyword: the field is from_, read and written as ``from``.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, serialize_by_alias=True)

    parameter: Annotated[str, Field(min_length=1, max_length=200)]
    values: Annotated[list[FiniteFloat], Field(min_length=1, max_length=MAX_SWEEP_VALUES)] | None = None
    from_: FiniteFloat | None = Field(default=None, alias="from")
    to: FiniteFloat | None = None
    steps: Annotated[int, Field(ge=2, le=MAX_SWEEP_VALUES, strict=True)] | None = None

    @model_validator(mode="after")
    def _values_or_range(self) -> SweepAxis:
        ranged = (self.from_, self.to, self.steps)
        if self.values is not None and any(v is not None for v in ranged):
            raise ValueError("either values: [...] or from, to and steps, not both")
        if self.values is None and any(v is None for v in ranged):
            raise ValueError("values: [...], or all of from, to and steps")
        if self.values is not None and len(set(self.values)) != len(self.values):
            raise ValueError("sweep values each given once")
        if self.values is None and self.from_ == self.to:
            raise ValueError("from and to that differ")
        return self

    def points(self) -> list[float]:
        if self.values is not None:
            return list(self.values)
        start, stop, steps = float(self.from_), float(self.to), int(self.steps)  # type: ignore[arg-type]
        # The last point is ``to`` itself, not start + (stop - start) x 1 with its rounding error.
        return [start + (stop - start) * k / (steps - 1) for k in range(steps - 1)] + [stop]


class SweepConfig(SweepAxis):
    """A sweep of ``parameter``; with ``second``, a grid over two parameters."""

    second: SweepAxis | None = None

    @model_validator(mode="after")
    def _two_parameters(self) -> SweepConfig:
        if self.second is not None and self.second.parameter == self.parameter:
            raise ScenarioFieldError("sweep.second.parameter", "a parameter other than sweep.parameter", self.second.parameter)
        return self

    def size(self) -> int:
        return len(self.points()) * (len(self.second.points()) if self.second is not None else 1)


class Scenario(Strict):
    name: Name
    description: str = ""
    seed: Annotated[int, Field(ge=0, le=MAX_SEED, strict=True)]
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS, strict=True)] = 1
    cohort: CohortConfig
    # Months simulated; ``lifetime`` (the default): to age 100 (LIFETIME_HORIZON_MONTHS).
    horizon_months: HorizonMonths = LIFETIME_HORIZON_MONTHS
    strategies: Annotated[list[StrategyConfig], Field(min_length=1, max_length=50)]
    parameters: dict[str, ParameterValue] = {}
    economics: EconomicsConfig = EconomicsConfig()
    # Capacity planning: shared hospital resources with queues, and optionally open-population arrivals.
    capacity: CapacityConfig | None = None
    # Scenario analyses (`nelm-sim scenarios`); `run` and `compare` run the base scenario only.
    variants: Annotated[list[VariantConfig], Field(min_length=1, max_length=MAX_VARIANTS)] | None = None
    sweep: SweepConfig | None = None

    @field_validator("strategies", mode="before")
    @classmethod
    def _names_to_configs(cls, value: Any) -> Any:
        return _strategy_names_to_configs(value)

    @field_validator("horizon_months", mode="before")
    @classmethod
    def _lifetime(cls, value: Any) -> Any:
        return LIFETIME_HORIZON_MONTHS if value == LIFETIME else value

    @field_validator("capacity", mode="before")
    @classmethod
    def _empty_capacity_is_none(cls, value: Any) -> Any:
        """A capacity section with neither arrivals nor any resource changes nothing: it is dropped, so the
        run is exactly the run without it (same engine, same outputs)."""
        if isinstance(value, dict) and set(value) <= {"arrivals", "resources"} and value.get("arrivals") is None:
            resources = value.get("resources")
            if resources is None or (isinstance(resources, dict) and all(v is None for v in resources.values())):
                return None
        return value

    @model_validator(mode="after")
    def _variant_names_and_runs(self) -> Scenario:
        seen = {BASE_VARIANT}
        for index, variant in enumerate(self.variants or []):
            if variant.name in seen:
                raise ScenarioFieldError(
                    f"variants[{index}].name", f"a variant name used once and other than {BASE_VARIANT!r} (the base scenario)", variant.name
                )
            seen.add(variant.name)
        runs = 1 + len(self.variants or []) + (self.sweep.size() if self.sweep is not None else 0)
        if runs > MAX_SCENARIO_RUNS:
            raise ScenarioFieldError(
                "sweep" if self.sweep is not None else "variants",
                f"at most {MAX_SCENARIO_RUNS} runs in all (the base + variants + sweep points = {runs})",
            )
        return self

    @model_validator(mode="after")
    def _total_work(self) -> Scenario:
        limit = self.total_work_error(MAX_SUMMARY_LIFETIMES)
        if limit is not None:
            raise ScenarioFieldError("cohort.size", limit, self.cohort.size)
        return self

    @model_validator(mode="after")
    def _psa_work(self) -> Scenario:
        error = self.psa_work_error()
        if error is not None:
            raise ScenarioFieldError("economics.psa_patients", error, self.economics.psa_patients)
        return self

    def psa_work_error(self) -> str | None:
        """What is expected of the PSA design when one draw would not fit in memory, or the whole
        analysis would simulate more than MAX_PSA_LIFETIMES lifetimes."""
        draws, patients, strategies = self.economics.psa_draws, self.economics.psa_patients, len(self.strategies)
        if patients * strategies > MAX_SIMULATED_LIFETIMES:
            return (
                f"at most {MAX_SIMULATED_LIFETIMES} simulated lifetimes in each PSA draw (psa_patients x strategies ="
                f" {patients} x {strategies} = {patients * strategies}; a draw keeps its event log in memory)"
            )
        if draws * patients * strategies > MAX_PSA_LIFETIMES:
            return (
                f"at most {MAX_PSA_LIFETIMES} simulated lifetimes in a PSA (psa_draws x psa_patients x strategies ="
                f" {draws} x {patients} x {strategies} = {draws * patients * strategies})"
            )
        return None

    def total_work_error(self, limit: int, summary_hint: bool = True) -> str | None:
        """What is expected of the cohort size when the run would simulate more than ``limit`` lifetimes."""
        lifetimes = self.cohort.size * self.replications * len(self.strategies)
        if lifetimes <= limit:
            return None
        return (
            f"at most {limit} simulated lifetimes in all (cohort.size x replications x strategies ="
            f" {self.cohort.size} x {self.replications} x {len(self.strategies)} = {lifetimes})"
            + ("; more runs in summary mode (nelm-sim run --summary)" if summary_hint and limit == MAX_SIMULATED_LIFETIMES else "")
        )

    @model_validator(mode="after")
    def _unique_strategy_names(self) -> Scenario:
        seen: set[str] = set()
        for index, strategy in enumerate(self.strategies):
            if strategy.name in seen:
                raise ScenarioFieldError(f"strategies[{index}].name", "a strategy name not used before in this file", strategy.name)
            seen.add(strategy.name)
        comparator = self.economics.comparator
        if comparator is not None and comparator not in seen:
            raise ScenarioFieldError(
                "economics.comparator",
                f"the name of a strategy of this scenario ({', '.join(s.name for s in self.strategies)})",
                comparator,
            )
        return self

    def with_overrides(self, **changes: Any) -> Scenario:
        """A copy with top-level or cohort fields replaced (used by the CLI's --seed, --patients...)."""
        data = self.model_dump()
        for key, value in changes.items():
            if value is None:
                continue
            if key == "patients":
                data["cohort"]["size"] = value
            elif key in ("psa_draws", "psa_patients"):
                data["economics"][key] = value
            else:
                data[key] = value
        return Scenario.model_validate(data)


class ScenarioFieldError(ValueError):
    """Raised inside validators to report a precise field path."""

    def __init__(self, field: str, expected: str, got: object = None) -> None:
        self.field, self.expected, self.got = field, expected, got
        super().__init__(expected)


def format_location(loc: tuple) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif item in ("float", "dict[str,any]"):
            continue  # union-branch labels that pydantic inserts into the path
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts)


_EXPECTATIONS = {
    "missing": "this required field",
    "extra_forbidden": "no such field (unknown key)",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "text",
    "list_type": "a list",
    "dict_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "model_attributes_type": "a mapping of keys to values",
}


def _expectation(error: ErrorDetails) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        symbol = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values()))
        return f"a number {symbol} {bound}"
    if kind == "literal_error":
        return f"one of {ctx.get('expected', '')}"
    if kind == "string_pattern_mismatch":
        return "a name of letters, digits, '.', '_' or '-' (starting with a letter or digit)"
    if kind in ("too_short", "too_long"):
        field_type = ctx.get("field_type", "value")
        bound = ctx.get("min_length") if kind == "too_short" else ctx.get("max_length")
        word = "at least" if kind == "too_short" else "at most"
        return f"a {field_type.lower()} with {word} {bound} item(s)"
    if kind == "value_error":
        original = ctx.get("error")
        if isinstance(original, ScenarioFieldError):
            return original.expected
        return str(error.get("msg", "a valid value")).removeprefix("Value error, ")
    return _EXPECTATIONS.get(kind, error.get("msg", "a valid value"))


def _field_names() -> set[str]:
    """Every key a scenario file may use somewhere: what a misspelt key is compared with."""
    names: set[str] = set()
    pending: list[type[BaseModel]] = [Strict]
    while pending:
        model = pending.pop()
        names.update(model.model_fields)
        pending.extend(model.__subclasses__())
    return names


def validation_error_to_scenario_error(path: Path, exc: ValidationError) -> ScenarioError:
    errors = exc.errors(include_url=False)
    # Prefer the most specific error (longest path) that is not a union-branch mismatch.
    error = max(errors, key=lambda e: (e["type"] != "model_type", len(e["loc"])))
    original = (error.get("ctx") or {}).get("error")
    if isinstance(original, ScenarioFieldError):
        return ScenarioError(path, original.field, original.expected, original.got)
    loc = tuple(error["loc"])
    expected = _expectation(error)
    if error["type"] == "invalid_key" or loc[-1:] == ("[key]",):
        # a mapping key that YAML read as a number, date, null...: show it as a name
        loc = tuple(str(item) for item in loc if item != "[key]")
        expected = "a key in text (quote numbers, dates and null used as names)"
    if error["type"] == "extra_forbidden" and loc:
        expected += did_you_mean(loc[-1], _field_names())
    field = format_location(loc)
    got = error.get("input") if error["type"] not in ("missing", "model_type", "dict_type") else None
    if isinstance(got, (dict, list)):
        got = None
    return ScenarioError(path, field, expected, got)


# The field each override of ``apply_overrides`` sets, and the command-line option that sets it.
OVERRIDES = {
    "seed": ("seed", "--seed"),
    "patients": ("cohort.size", "--patients"),
    "replications": ("replications", "--replications"),
    "psa_draws": ("economics.psa_draws", "--draws"),
    "psa_patients": ("economics.psa_patients", "--patients"),
}


def apply_overrides(scenario: Scenario, path: Path, options: dict[str, str] | None = None, **changes: Any) -> Scenario:
    """``scenario`` with the command line's --seed, --patients, --replications, --draws... (None:
    unchanged), validated by the same models as the file: a value out of bounds is a one-line
    ScenarioError naming ``path``, the field and the option that set it (``options`` renames an
    override's option, e.g. {"patients": "--fit-patients"})."""
    try:
        return scenario.with_overrides(**changes)
    except ValidationError as exc:
        error = validation_error_to_scenario_error(path, exc)
        for key, value in changes.items():
            field, option = OVERRIDES[key]
            option = (options or {}).get(key, option)
            if value is not None and error.field == field:
                raise ScenarioError(path, f"{field} (set by {option})", error.expected, error.got) from None
        raise error from None


def load_scenario(path: Path | str) -> Scenario:
    """Read and validate a scenario file, or raise ScenarioError with a one-line message."""
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(
            path, "", "a mapping of scenario fields at the top level", "an empty file" if data is None else type(data).__name__
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise validation_error_to_scenario_error(path, exc) from None
