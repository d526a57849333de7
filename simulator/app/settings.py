"""What the page lets a user set, and how it becomes a validated scenario.

Every control maps to an existing scenario field (``cohort.mix.<share>``, ``parameters.<name>``,
``economics.willingness_to_pay``). A control's default is the value the model would use for the
chosen scenario (the parameter library with the scenario's own overrides, read through ``prepare``),
so the page holds no model numbers of its own; the slider ranges are UI choices. The page's settings
become a scenario mapping that goes through the same validation as a scenario file (pydantic model,
then ``prepare``), so a bad combination ends as the same one-line message the CLI prints.

The scenario is chosen by name from a fixed list; no path typed on the page is ever opened.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..config import Scenario, load_scenario, validation_error_to_scenario_error
from ..errors import ScenarioError, UserInputError
from ..experiments.runner import PreparedScenario, prepare
from ..pathways.strategies import bundled_strategies
from . import capacity

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FOLDER = PROJECT_ROOT / "scenarios"
SEED_FOLDER = SCENARIO_FOLDER / "seed"
# The scenarios the page offers: file stems in scenarios/. Only these names are ever looked up.
BUNDLED_SCENARIOS = ("baseline", "evidence-variants", "population-variants")
# What error messages name instead of a file: the settings come from the page, not from a file.
SETTINGS_LABEL = "page settings"
MIN_STRATEGIES = 2


@dataclass(frozen=True)
class Control:
    """One labelled control in clinical units. ``scale`` converts the model value into the unit shown
    (100 for a share shown in %). ``minimum``/``maximum``/``step`` are in the unit shown (UI choices)."""

    key: str
    label: str
    group: str
    target: str  # "mix" (cohort.mix.<name>) | "parameter" (parameters.<name>) | "wtp" (economics)
    name: str
    unit: str
    scale: float
    minimum: float
    maximum: float
    step: float
    help: str = ""

    @property
    def parameter(self) -> str:
        """The parameter-library name behind the control (as `nelm-sim params` lists it)."""
        return f"cohort.{self.name}" if self.target == "mix" else self.name

    @property
    def field_path(self) -> str:
        return {"mix": f"cohort.mix.{self.name}", "parameter": f"parameters.{self.name}", "wtp": "economics.willingness_to_pay"}[
            self.target
        ]


COHORT = "Cohort mix"
EFFECTS = "Treatment effects and risks"
ECONOMICS = "Economics"

CONTROLS: tuple[Control, ...] = (
    Control(
        "mix.primary_pancreas",
        "Pancreatic primary",
        COHORT,
        "mix",
        "primary_pancreas",
        "% of patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Share of patients whose primary tumour is in the pancreas (sunitinib is for pancreatic primaries only).",
    ),
    Control(
        "mix.primary_small_bowel",
        "Small-bowel primary",
        COHORT,
        "mix",
        "primary_small_bowel",
        "% of patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Share with a small-bowel (midgut) primary. Pancreatic + small bowel must not exceed 100%; the rest are other sites.",
    ),
    Control(
        "mix.burden_25to50",
        "Hepatic tumour burden 25-50%",
        COHORT,
        "mix",
        "burden_25to50",
        "% of patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Share with 25-50% of the liver replaced by tumour; the rest of the cohort below 25% unless > 50%.",
    ),
    Control(
        "mix.burden_gt50",
        "Hepatic tumour burden > 50%",
        COHORT,
        "mix",
        "burden_gt50",
        "% of patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Share with more than 50% of the liver replaced by tumour. The two burden shares must not exceed 100%.",
    ),
    Control(
        "mix.functional",
        "Functional (hormone-secreting) tumour",
        COHORT,
        "mix",
        "functional",
        "% of patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Functional patients start with uncontrolled hormonal symptoms.",
    ),
    Control(
        "mix.resectable_lt25",
        "Resectable, burden < 25%",
        COHORT,
        "mix",
        "resectable_lt25",
        "% of these patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Probability that a patient with < 25% burden is resectable at entry (lower with extrahepatic disease).",
    ),
    Control(
        "mix.resectable_25to50",
        "Resectable, burden 25-50%",
        COHORT,
        "mix",
        "resectable_25to50",
        "% of these patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Probability that a patient with 25-50% burden is resectable at entry.",
    ),
    Control(
        "mix.resectable_gt50",
        "Resectable, burden > 50%",
        COHORT,
        "mix",
        "resectable_gt50",
        "% of these patients",
        100.0,
        0.0,
        100.0,
        1.0,
        "Probability that a patient with > 50% burden is resectable at entry.",
    ),
    Control(
        "parameter.octreotide_lar.progression_hazard_ratio",
        "Somatostatin analogue (octreotide LAR): hazard ratio of progression",
        EFFECTS,
        "parameter",
        "octreotide_lar.progression_hazard_ratio",
        "hazard ratio vs no treatment",
        1.0,
        0.05,
        1.5,
        0.01,
        "Below 1 slows progression. PROMID: 0.34 (95% CI 0.20-0.59).",
    ),
    Control(
        "parameter.hepatectomy.perioperative_mortality",
        "Hepatectomy: 30-day (perioperative) mortality",
        EFFECTS,
        "parameter",
        "hepatectomy.perioperative_mortality",
        "% of operations",
        100.0,
        0.0,
        20.0,
        0.1,
        "Share of patients who die within 30 days of a liver resection.",
    ),
    Control(
        "economics.willingness_to_pay",
        "Willingness to pay",
        ECONOMICS,
        "wtp",
        "willingness_to_pay",
        "GBP per QALY",
        1.0,
        0.0,
        100_000.0,
        1_000.0,
        "Threshold for the net monetary benefit; drawn as a line on the cost-effectiveness plane.",
    ),
)
CONTROLS_BY_KEY = {c.key: c for c in CONTROLS}


@dataclass(frozen=True)
class RunDesign:
    """How much simulation a page run does (UI choices, not model numbers). The defaults keep the first
    run of the page well under 20 seconds on two cores; the CLI equivalents are --patients,
    --replications and --seed (compare) and --draws, --patients (psa)."""

    patients: int = 400
    replications: int = 3
    psa_draws: int = 20
    psa_patients: int = 80


RUN_DESIGN_DEFAULT = RunDesign()
# (minimum, maximum, step) of each run-design input.
RUN_DESIGN_RANGES = {
    "patients": (50, 5_000, 50),
    "replications": (1, 20, 1),
    "psa_draws": (2, 500, 1),
    "psa_patients": (20, 2_000, 10),
}
SEED_RANGE = (0, 2**31 - 1)
SEED_FIGURE_PATIENTS = (1_000, 100, 5_000, 100)  # default, minimum, maximum, step (the CLI default is 5,000)


@dataclass(frozen=True)
class PageSettings:
    scenario: str
    strategies: tuple[str, ...]
    values: tuple[tuple[str, float], ...]  # (control key, value in the unit shown)
    seed: int
    design: RunDesign = field(default_factory=RunDesign)
    theatre_capacity: float | None = None  # only where the model supports resources (capacity.py)

    def value(self, key: str) -> float:
        return dict(self.values)[key]


def _one_line(message: str) -> str:
    return " ".join(str(message).split())


def scenario_path(name: str) -> Path:
    if name not in BUNDLED_SCENARIOS:
        raise UserInputError(f"scenario: expected one of {', '.join(BUNDLED_SCENARIOS)}, got {_one_line(repr(name))[:60]}")
    return SCENARIO_FOLDER / f"{name}.yaml"


@lru_cache(maxsize=len(BUNDLED_SCENARIOS))
def bundled_scenario(name: str) -> Scenario:
    return load_scenario(scenario_path(name))


@lru_cache(maxsize=len(BUNDLED_SCENARIOS))
def _prepared_default(name: str) -> PreparedScenario:
    return prepare(bundled_scenario(name), scenario_path(name))


def strategy_choices(name: str) -> list[str]:
    """The scenario's own strategies first (in its order), then the other bundled strategies."""
    own = [s.name for s in bundled_scenario(name).strategies]
    return own + [s for s in bundled_strategies() if s not in own]


def default_strategies(name: str) -> list[str]:
    return [s.name for s in bundled_scenario(name).strategies]


def default_value(name: str, control: Control) -> float:
    """The value the model uses for this scenario, in the control's unit: from the parameter library
    (with calibration and the scenario's overrides) or the scenario's economics section."""
    if control.target == "wtp":
        return float(bundled_scenario(name).economics.willingness_to_pay[0])
    return _display(_prepared_default(name).params.value(control.parameter) * control.scale)


def _display(value: float) -> float:
    """A value shown on a slider: rid of binary noise (0.013 x 100 = 1.3000000000000003)."""
    return float(f"{value:.10g}")


def default_values(name: str) -> dict[str, float]:
    return {c.key: default_value(name, c) for c in CONTROLS}


def default_settings(name: str = BUNDLED_SCENARIOS[0]) -> PageSettings:
    return PageSettings(
        scenario=name,
        strategies=tuple(default_strategies(name)),
        values=tuple(default_values(name).items()),
        seed=bundled_scenario(name).seed,
    )


def check_settings(settings: PageSettings) -> None:
    """Refuse values outside the controls' ranges, whatever sent them (the widgets already bound them)."""
    scenario_path(settings.scenario)
    choices = strategy_choices(settings.scenario)
    if len(settings.strategies) < MIN_STRATEGIES:
        raise UserInputError(f"strategies: expected at least {MIN_STRATEGIES} strategies to compare, got {len(settings.strategies)}")
    for strategy in settings.strategies:
        if strategy not in choices:
            raise UserInputError(f"strategies: expected names from {', '.join(choices)}, got {_one_line(repr(strategy))[:60]}")
    if len(set(settings.strategies)) != len(settings.strategies):
        raise UserInputError("strategies: expected each strategy once")
    keys = [k for k, _ in settings.values]
    if sorted(keys) != sorted(CONTROLS_BY_KEY):
        raise UserInputError("settings: expected one value for each control")
    for key, value in settings.values:
        control = CONTROLS_BY_KEY[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise UserInputError(f"{control.label}: expected a number, got {_one_line(repr(value))[:60]}")
        if not control.minimum <= value <= control.maximum:
            raise UserInputError(f"{control.label}: expected {control.minimum:g} to {control.maximum:g} ({control.unit}), got {value:g}")
    for name, (low, high, _) in RUN_DESIGN_RANGES.items():
        value = getattr(settings.design, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise UserInputError(
                f"{name.replace('_', ' ')}: expected a whole number from {low} to {high}, got {_one_line(repr(value))[:60]}"
            )
    if isinstance(settings.seed, bool) or not isinstance(settings.seed, int) or not SEED_RANGE[0] <= settings.seed <= SEED_RANGE[1]:
        raise UserInputError(
            f"seed: expected a whole number from {SEED_RANGE[0]} to {SEED_RANGE[1]}, got {_one_line(repr(settings.seed))[:60]}"
        )


def scenario_data(settings: PageSettings) -> dict:
    """The scenario mapping the page runs: the bundled scenario's base (its variants and sweep are for
    `nelm-sim scenarios`, not `compare`) with the chosen strategies, run design and every control that
    differs from its default written as an override."""
    check_settings(settings)
    base = bundled_scenario(settings.scenario)
    data = base.model_dump(mode="json", exclude_none=True)
    data.pop("variants", None)
    data.pop("sweep", None)
    own = {s["name"]: s for s in data["strategies"]}
    data["strategies"] = [own.get(name, name) for name in settings.strategies]
    data["seed"] = settings.seed
    data["replications"] = settings.design.replications
    data["cohort"]["size"] = settings.design.patients
    if data.get("economics", {}).get("comparator") not in (None, *settings.strategies):
        data["economics"].pop("comparator")  # the scenario's comparator was deselected: the default rule applies
    defaults = default_values(settings.scenario)
    for key, shown in settings.values:
        control = CONTROLS_BY_KEY[key]
        if _display(shown) == defaults[key]:
            continue  # unchanged: the scenario file stays as it is (and the CLI sees the same file)
        if control.target == "wtp":
            data.setdefault("economics", {})["willingness_to_pay"] = [float(shown)]
            continue
        value = _display(shown / control.scale)
        if control.target == "mix" and control.parameter not in data.get("parameters", {}):
            data["cohort"].setdefault("mix", {})[control.name] = value
        else:
            data.setdefault("parameters", {})[control.parameter] = value
    if settings.theatre_capacity is not None:
        capacity.apply_theatre_capacity(data, settings.theatre_capacity)
    return data


def _labelled(error: ScenarioError) -> UserInputError:
    """The CLI's one-line message, with the control's label where the field belongs to one."""
    for control in CONTROLS:
        if error.field == control.field_path or error.field.startswith(control.field_path + "["):
            return UserInputError(f"{control.label}: {error.one_line()}")
    return UserInputError(error.one_line())


def build_prepared(settings: PageSettings) -> PreparedScenario:
    """Validate the page's settings as the CLI validates a scenario file: the scenario model, then
    ``prepare`` (parameter checks, cohort shares that sum to at most 1, strategies). Raises
    UserInputError with one line."""
    data = scenario_data(settings)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _labelled(validation_error_to_scenario_error(Path(SETTINGS_LABEL), exc)) from None
    try:
        return prepare(scenario, SETTINGS_LABEL)
    except ScenarioError as exc:
        raise _labelled(exc) from None


def scenario_yaml(scenario: Scenario) -> str:
    """The scenario as a file the CLI reads (as `scenario.resolved.yaml` of a run folder)."""
    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


def scenario_from_yaml(text: str) -> Scenario:
    """Back from ``scenario_yaml`` (our own output, read with the safe loader and validated again)."""
    return Scenario.model_validate(yaml.safe_load(text))
