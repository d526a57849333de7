"""What the page lets a user set, and how it becomes a validated scenario.

Every control maps to an existing scenario field (``cohort.mix.<share>``, ``parameters.<name>``,
``economics.willingness_to_pay``). A control's default is the value the model would use for the
chosen scenario (the parameter library with the scenario's own overrides, read through ``prepare``),
so the page holds no model numbers of its own; the slider ranges are UI choices. The page's settings
become a scenario mapping that goes through the same validation as a scenario file (pydantic model,
then ``prepare``), so a bad combination ends as the same one-line message the CLI prints.

The scenario is chosen by name from a fixed list, or uploaded as a file: an upload is validated by
``nelm-sim validate``'s own function (a temporary copy, then the one-line message names the uploaded
file) and kept by its content's SHA-256. No path typed on the page is ever opened.

Limits are the command line's (config.py), checked here first in the page's own terms: shares as the
sliders show them (percentages) and run sizes named after the page's inputs.
"""

from __future__ import annotations

import hashlib
import math
import re
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from ..capacity.arrivals import expected_arrivals
from ..capacity.run import ARRIVAL_LIMIT_SDS, arrival_months
from ..commands.validate import validate_file
from ..config import MAX_SIMULATED_LIFETIMES, Scenario, load_scenario, validation_error_to_scenario_error
from ..errors import ParameterError, ScenarioError, UserInputError
from ..experiments.runner import PreparedScenario, prepare
from ..io import MAX_FILE_BYTES
from ..pathways.strategies import bundled_strategies
from ..reporting import numbers
from . import capacity

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCENARIO_FOLDER = PROJECT_ROOT / "scenarios"
SEED_FOLDER = SCENARIO_FOLDER / "seed"
# The scenarios the page offers: every file in scenarios/ (the baseline first), by stem. Only these
# names are ever looked up.
BUNDLED_SCENARIOS = ("baseline", *sorted(p.stem for p in SCENARIO_FOLDER.glob("*.yaml") if p.stem != "baseline"))
# What error messages name instead of a file: the settings come from the page, not from a file.
SETTINGS_LABEL = "page settings"
# One strategy is a run, not a comparison, but it is what a planner needs of a capacity scenario (its
# queues and waits); hazard ratios and incremental costs then have nothing to compare and are left out.
MIN_STRATEGIES = 1
# An uploaded scenario file obeys the command line's limit on a scenario file (io.read_yaml).
MAX_UPLOAD_BYTES = MAX_FILE_BYTES
UPLOAD_PREFIX = "upload-"
UPLOAD_NAME_CHARACTERS = 80  # how much of an uploaded file's name messages show
UPLOADS_KEPT = 16  # uploaded scenarios kept in memory (by content), the oldest forgotten first
# Cohort shares that the model requires to sum to at most 1 (engine/cohort.mix_probabilities), as the
# page's controls: checked first in the page's terms (percentages).
SHARE_GROUPS = (("mix.primary_pancreas", "mix.primary_small_bowel"), ("mix.burden_25to50", "mix.burden_gt50"))
# A page run (the comparison and its PSA together) simulates at most as many lifetimes as one command-line
# run that keeps its event log (config.MAX_SIMULATED_LIFETIMES): at the page's measured pace (README
# "Interactive page": about 1,400 lifetimes a second, figures included) that is a few minutes at most.
PAGE_MAX_LIFETIMES = MAX_SIMULATED_LIFETIMES


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


# Uploaded scenarios by key ("upload-" + the first 16 hex digits of the file's SHA-256): the same file
# uploaded again is the same scenario, so its widgets keep their values and its runs their cache.
_UPLOADS: OrderedDict[str, tuple[str, Scenario]] = OrderedDict()
_UPLOADS_LOCK = threading.Lock()  # one per server: each browser session runs in its own thread


def is_upload(name: str) -> bool:
    return name.startswith(UPLOAD_PREFIX)


def upload_label(file_name: str) -> str:
    """The uploaded file's own name (no folder), printable and short: what messages name."""
    base = re.split(r"[\\/]", str(file_name))[-1]
    shown = "".join(c if c.isprintable() and not c.isspace() else "_" for c in base)[:UPLOAD_NAME_CHARACTERS]
    return shown or "uploaded file"


def register_upload(file_name: str, data: bytes) -> str:
    """Validate an uploaded scenario file exactly as `nelm-sim validate` does and keep it; the key the page
    chooses it by. A bad file raises UserInputError with the CLI's one line, naming the uploaded file."""
    label = upload_label(file_name)
    key = UPLOAD_PREFIX + hashlib.sha256(data).hexdigest()[:16]
    with _UPLOADS_LOCK:
        if key in _UPLOADS and _UPLOADS[key][0] == label:  # validated before (every widget change re-runs the page)
            _UPLOADS.move_to_end(key)
            return key
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserInputError(f"{label}: expected a file of at most {numbers.count(MAX_UPLOAD_BYTES)} bytes, got {numbers.count(len(data))}")
    with tempfile.TemporaryDirectory(prefix="nelm-sim-upload-") as temporary:
        path = Path(temporary) / "scenario.yaml"
        path.write_bytes(data)
        try:
            validate_file(path)
            scenario = load_scenario(path)
        except ParameterError as exc:
            raise UserInputError(ScenarioError(label, exc.inner.field, exc.inner.expected, exc.inner.got).one_line()) from None
        except ScenarioError as exc:
            raise UserInputError(ScenarioError(label, exc.field, exc.expected, exc.got).one_line()) from None
        except UserInputError as exc:
            raise UserInputError(_one_line(str(exc).replace(str(path), label))) from None
    with _UPLOADS_LOCK:
        _UPLOADS[key] = (label, scenario)
        _UPLOADS.move_to_end(key)
        while len(_UPLOADS) > UPLOADS_KEPT:
            _UPLOADS.popitem(last=False)
    return key


def scenario_label(name: str) -> str:
    """What the page calls a scenario: the bundled name, or the uploaded file's name."""
    if is_upload(name):
        base_scenario(name)  # refuses a key that was never uploaded (or was forgotten)
        return _UPLOADS[name][0]
    return name


def scenario_path(name: str) -> Path:
    if name not in BUNDLED_SCENARIOS:
        raise UserInputError(f"scenario: expected one of {', '.join(BUNDLED_SCENARIOS)}, got {_one_line(repr(name))[:60]}")
    return SCENARIO_FOLDER / f"{name}.yaml"


@lru_cache(maxsize=len(BUNDLED_SCENARIOS))
def bundled_scenario(name: str) -> Scenario:
    return load_scenario(scenario_path(name))


def base_scenario(name: str) -> Scenario:
    """A bundled scenario by name, or an uploaded one by its key."""
    if is_upload(name):
        with _UPLOADS_LOCK:
            kept = _UPLOADS.get(name)
        if kept is None:
            raise UserInputError("uploaded scenario: expected a file uploaded on this page (upload it again)")
        return kept[1]
    return bundled_scenario(name)


@lru_cache(maxsize=len(BUNDLED_SCENARIOS) + UPLOADS_KEPT)
def _prepared_default(name: str) -> PreparedScenario:
    label = scenario_label(name) if is_upload(name) else scenario_path(name)
    return prepare(base_scenario(name), label)


def has_arrivals(name: str) -> bool:
    """True when the scenario's cohort is an open population (capacity.arrivals): cohort.size is not used."""
    capacity_section = base_scenario(name).capacity
    return capacity_section is not None and capacity_section.arrivals is not None


def has_resources(name: str) -> bool:
    capacity_section = base_scenario(name).capacity
    return capacity_section is not None and capacity_section.resources is not None and bool(capacity_section.resources.configured())


def strategy_choices(name: str) -> list[str]:
    """The scenario's own strategies first (in its order), then the other bundled strategies."""
    own = [s.name for s in base_scenario(name).strategies]
    return own + [s for s in bundled_strategies() if s not in own]


def default_strategies(name: str) -> list[str]:
    return [s.name for s in base_scenario(name).strategies]


def default_value(name: str, control: Control) -> float:
    """The value the model uses for this scenario, in the control's unit: from the parameter library
    (with calibration and the scenario's overrides) or the scenario's economics section."""
    if control.target == "wtp":
        return float(base_scenario(name).economics.willingness_to_pay[0])
    return _display(_prepared_default(name).params.value(control.parameter) * control.scale)


def _display(value: float) -> float:
    """A value shown on a slider: rid of binary noise (0.013 x 100 = 1.3000000000000003)."""
    return float(f"{value:.10g}")


def default_values(name: str) -> dict[str, float]:
    return {c.key: default_value(name, c) for c in CONTROLS}


def control_range(name: str, control: Control) -> tuple[float, float]:
    """The control's range, widened to the scenario's own value when an uploaded file sets one outside it
    (the file passed the CLI's validation, so its value is one the model accepts)."""
    default = default_value(name, control)
    return min(control.minimum, default), max(control.maximum, default)


def seed_range(name: str) -> tuple[int, int]:
    """The seed input's range, widened to an uploaded file's own seed (the CLI takes any up to MAX_SEED)."""
    return SEED_RANGE[0], max(SEED_RANGE[1], base_scenario(name).seed)


def default_settings(name: str = BUNDLED_SCENARIOS[0]) -> PageSettings:
    return PageSettings(
        scenario=name,
        strategies=tuple(default_strategies(name)),
        values=tuple(default_values(name).items()),
        seed=base_scenario(name).seed,
    )


def check_settings(settings: PageSettings) -> None:
    """Refuse values outside the controls' ranges, whatever sent them (the widgets already bound them)."""
    if not is_upload(settings.scenario):
        scenario_path(settings.scenario)
    base_scenario(settings.scenario)
    choices = strategy_choices(settings.scenario)
    if len(settings.strategies) < MIN_STRATEGIES:
        raise UserInputError(f"Strategies to compare: choose at least {MIN_STRATEGIES}, got none")
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
        low, high = control_range(settings.scenario, control)
        if not low <= value <= high:
            raise UserInputError(f"{control.label}: expected {low:g} to {high:g} ({control.unit}), got {value:g}")
    for name, (low, high, _) in RUN_DESIGN_RANGES.items():
        value = getattr(settings.design, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise UserInputError(
                f"{name.replace('_', ' ')}: expected a whole number from {low} to {high}, got {_one_line(repr(value))[:60]}"
            )
    low, high = seed_range(settings.scenario)
    if isinstance(settings.seed, bool) or not isinstance(settings.seed, int) or not low <= settings.seed <= high:
        raise UserInputError(f"seed: expected a whole number from {low} to {high}, got {_one_line(repr(settings.seed))[:60]}")


def _percent(value: float) -> str:
    return f"{value:g}%"


def check_page_limits(settings: PageSettings) -> None:
    """The model's limits that a page user can reach, in the page's terms: cohort shares as the sliders show
    them (percentages) and the run's size named after the page's own inputs. The same settings run from the
    command line meet the same limits (config.py, engine/cohort.mix_probabilities)."""
    values = dict(settings.values)
    for group in SHARE_GROUPS:
        shown = [values[key] for key in group]
        if sum(shown) > 100.0 + 1e-7:
            labels = " + ".join(CONTROLS_BY_KEY[key].label for key in group)
            parts = " + ".join(_percent(v) for v in shown)
            raise UserInputError(
                f"{labels}: at most 100% of patients together, got {parts} = {_percent(_display(sum(shown)))}; lower one of them"
            )
    strategies = len(settings.strategies)
    design = settings.design
    if has_arrivals(settings.scenario):
        patients = open_population_patients(settings.scenario)
        comparison_words = f"up to {numbers.count(patients)} arriving patients"
        psa_patients, psa_words = patients, f"up to {numbers.count(patients)} arriving patients"
    else:
        patients, comparison_words = design.patients, f"{numbers.count(design.patients)} patients"
        psa_patients, psa_words = design.psa_patients, f"{numbers.count(design.psa_patients)} patients"
    comparison = patients * design.replications * strategies
    psa = design.psa_draws * psa_patients * strategies if strategies > 1 else 0
    if comparison + psa > PAGE_MAX_LIFETIMES:
        raise UserInputError(
            f"Run size: at most {numbers.count(PAGE_MAX_LIFETIMES)} simulated lifetimes in one run of the page, got {numbers.count(comparison + psa)} "
            f"(comparison: {comparison_words} x {design.replications} replications x {strategies} strategies = {numbers.count(comparison)}; "
            f"cost-effectiveness: {design.psa_draws} PSA draws x {psa_words} x {strategies} strategies = {numbers.count(psa)}); "
            "lower them under Run size and seed, or run larger analyses with nelm-sim compare and nelm-sim psa"
        )


def open_population_patients(name: str) -> int:
    """The most patients an open population may bring, as the command line bounds it (capacity/run.py:
    the expected arrivals plus ARRIVAL_LIMIT_SDS standard deviations)."""
    scenario = base_scenario(name)
    mean = expected_arrivals(_prepared_default(name).params, scenario.capacity.arrivals.catchment_population, arrival_months(scenario))  # type: ignore[union-attr]
    return math.ceil(mean + ARRIVAL_LIMIT_SDS * math.sqrt(mean))


def scenario_data(settings: PageSettings) -> dict:
    """The scenario mapping the page runs: the scenario's base (its variants and sweep are for `nelm-sim
    scenarios`, not `compare`) with the chosen strategies, run design and every control that differs
    from its default written as an override."""
    check_settings(settings)
    check_page_limits(settings)
    base = base_scenario(settings.scenario)
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
    """Validate the page's settings as the CLI validates a scenario file: the page's limits in its own
    terms, then the scenario model, then ``prepare`` (parameter checks, cohort shares that sum to at most
    1, strategies). Raises UserInputError with one line."""
    data = scenario_data(settings)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise _labelled(validation_error_to_scenario_error(Path(SETTINGS_LABEL), exc)) from None
    try:
        return prepare(scenario, SETTINGS_LABEL)
    except ParameterError as exc:
        raise _labelled(exc.inner) from None
    except ScenarioError as exc:
        raise _labelled(exc) from None


def scenario_yaml(scenario: Scenario) -> str:
    """The scenario as a file the CLI reads (as `scenario.resolved.yaml` of a run folder)."""
    return yaml.safe_dump(scenario.model_dump(mode="json", exclude_none=True), sort_keys=False)


def scenario_from_yaml(text: str) -> Scenario:
    """Back from ``scenario_yaml`` (our own output, read with the safe loader and validated again)."""
    return Scenario.model_validate(yaml.safe_load(text))
