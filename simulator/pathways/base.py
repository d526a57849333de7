"""The Modality base class: each treatment declares what it is and fills in a few hooks.

Declarations (class attributes, checked by ``check_declarations`` when a model is built): ``kind``
(procedure, systemic line or supportive care), ``state`` (the treatment state its line starts in),
``resource`` (the hospital resource every session queues for in a capacity run, ``None`` for none),
``needs_bed``, ``session_minutes`` (the parameter that says how long a session holds its resource),
``records_procedures`` (each session is a ``procedure`` event) and ``costs`` (the parameters the
valuation prices it with). The runner, the hospital and the valuation derive their lists from these.

``eligible(course)`` is the modality's own clinical rule (e.g. sunitinib for pancreatic primaries
only), applied on top of whatever the strategy's rule says. ``deliver(course)`` is a generator the
patient process delegates to with ``yield from``: it records what happens, lets time pass with
``course.wait`` and returns when the patient progresses, dies or reaches the horizon.

Every number a modality uses is read from the parameter set under the modality's prefix, e.g.
``tace.procedure_mortality``; nothing clinical is hard-coded here.
"""

from __future__ import annotations

import weakref
from collections.abc import Generator, Iterable
from dataclasses import dataclass

from ..config import RESOURCE_NAMES
from ..core.events import EventType, adverse_event_detail
from ..core.process import Waiting
from ..errors import ModalityDeclarationError

DAYS_PER_MONTH = 365.25 / 12  # calendar identity, not a model parameter
# A safety net against a rule set that keeps choosing treatments that end at once: from this line on,
# every line is best supportive care, and the model stops following progression (the patient stays on
# it until death or the horizon). Progressions past it change nothing the model values: the death
# hazard stops growing after disease.max_progressions_in_hazard (3), and no treatment follows. Without
# it, PSA draws in the tail of a wide interval (progression HR of G3 tumours 6.38, 95% CI 1.3-31.3)
# made progression near-instant on best supportive care and one patient live thousands of lines.
MAX_LINES = 50
KINDS = ("procedure", "systemic", "supportive")
CARCINOID_CRISIS = adverse_event_detail("carcinoid_crisis")
# session_minutes of a procedure whose own detail records how long it holds its resource (``minutes=``).
RECORDED_MINUTES = "recorded"
# Resources a treatment's sessions may declare; beds are declared apart (needs_bed), the MDT precedes every decision.
SESSION_RESOURCES = tuple(name for name in RESOURCE_NAMES if name not in ("beds", "mdt"))


@dataclass(frozen=True)
class CostItems:
    """The parameters the valuation (economics/valuation.py) prices a treatment with."""

    per_session: str | None = None  # once per procedure event
    per_administration: str | None = None  # a drug paid at each procedure event
    per_cycle: str | None = None  # per 28-day cycle started in the treatment's state
    bottom_up: bool = False  # per session also recorded minutes x cost.theatre_per_minute + stay x cost.inpatient_bed_day
    recovery_decrement: str | None = None  # utility decrement after each procedure event ...
    recovery_days: str | None = None  # ... for this many days

    @classmethod
    def procedure(cls, name: str, bottom_up: bool = False, per_administration: str | None = None) -> CostItems:
        """The library's naming for a procedure: cost.<name>_procedure and utility.recovery_*_<name>."""
        return cls(
            per_session=f"cost.{name}_procedure",
            per_administration=per_administration,
            bottom_up=bottom_up,
            recovery_decrement=f"utility.recovery_decrement_{name}",
            recovery_days=f"utility.recovery_days_{name}",
        )


class Modality:
    name: str = ""
    label: str = ""
    kind: str = ""  # procedure | systemic | supportive
    state: str = ""  # the treatment state a line of it starts in
    resource: str | None = None
    needs_bed = False
    session_minutes: str | None = None
    records_procedures = False
    costs = CostItems()
    is_ssa = False
    # True when a patient this treatment is not eligible for stays ineligible while receiving only supportive
    # care (its rule reads fixed traits, age or counts of past procedures), so that ``Strategy.settled`` may
    # rely on it. False (the safe default) for a rule that could come to admit the patient again.
    lasting_ineligibility = False

    def eligible(self, course) -> bool:
        return True

    def begin(self, course) -> float:
        """The start every treatment shares: a new line in the modality's state. Returns the start time."""
        course.open_line(self.name)
        course.on_ssa = self.is_ssa or course.ssa_continued is not None
        course.record(EventType.TREATMENT_START, self.state, self.name)
        return course.env.now

    def declaration_problems(self) -> list[str]:
        """What is missing or wrong in this modality's declarations (module docstring)."""
        problems = []
        if not self.name:
            problems.append("a name")
        if self.kind not in KINDS:
            problems.append(f"kind, one of {', '.join(KINDS)} (got {self.kind!r})")
        if not self.state:
            problems.append("state, the treatment state its line starts in")
        if self.kind == "procedure":
            if self.resource is None:
                problems.append(f"resource, the hospital resource its sessions queue for (one of {', '.join(SESSION_RESOURCES)})")
            if not self.records_procedures:
                problems.append("records_procedures = True (a procedure's sessions are procedure events)")
        if self.resource is not None:
            if self.resource not in SESSION_RESOURCES:
                problems.append(f"resource, one of {', '.join(SESSION_RESOURCES)} (got {self.resource!r})")
            if not self.session_minutes:
                problems.append(f"session_minutes, the parameter giving how long a session holds {self.resource} (or RECORDED_MINUTES)")
        costs = self.costs
        if self.records_procedures:
            for item in ("per_session", "recovery_decrement", "recovery_days"):
                if getattr(costs, item) is None:
                    problems.append(f"costs.{item} (a parameter name: it records procedure events)")
        if self.kind == "systemic" and costs.per_cycle is None and costs.per_administration is None:
            problems.append("costs.per_cycle or costs.per_administration (a systemic line has a drug cost)")
        return problems

    def deliver(self, course) -> Generator:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    # shared pieces -------------------------------------------------------------------------

    def progression_hazard_ratio(self, course) -> float:
        return course.model.progression_hazard_ratio_for(course.patient)

    def time_to_progression(self, course, parameter: str | None = None) -> float:
        name = parameter or f"{self.name}.time_to_progression"
        return course.params.dist(name).time_from_uniform(course.rs.uniform(name), self.progression_hazard_ratio(course))

    def hospital_stay(self, course, parameter: str) -> Waiting:
        """Stay in hospital after a procedure; returns True if the patient left alive."""
        days = course.params.value(parameter)
        if days <= 0:
            return True
        return (yield from course.wait(days / DAYS_PER_MONTH))

    def procedure_death(self, course, parameter: str, window_parameter: str = "procedures.mortality_window_days") -> Waiting:
        """Death from the procedure within its reporting window (30-day mortality); returns True if it happened."""
        params = course.params
        if not course.rs.bernoulli(parameter, params.value(parameter)):
            return False
        # The death falls uniformly inside the window, unless the patient dies of something else first.
        at = course.rs.uniform(f"{parameter}.timing") * params.value(window_parameter) / DAYS_PER_MONTH
        survived = yield from course.wait(at)
        if survived:
            course.die("treatment")
        return True

    def carcinoid_crisis(self, course) -> None:
        if course.patient.syndrome == "carcinoid" and course.rs.bernoulli(
            "procedures.carcinoid_crisis", course.params.value("procedures.carcinoid_crisis")
        ):
            course.adverse_event(CARCINOID_CRISIS)

    def run_until_progression(self, course, ttp: float, event: EventType = EventType.PROGRESSION) -> Generator:
        """Wait ``ttp`` months from now; progress if the patient is still followed then."""
        if (yield from course.wait(ttp)):
            course.progress(event)


_CHECKED: weakref.WeakSet[Modality] = weakref.WeakSet()  # found complete already (a model is built per replication and strategy)


def check_declarations(modalities: Iterable[Modality]) -> None:
    """Raise ModalityDeclarationError naming the first modality whose declarations are incomplete."""
    for modality in modalities:
        if modality in _CHECKED:
            continue
        problems = modality.declaration_problems()
        if problems:
            name = modality.name or type(modality).__name__
            raise ModalityDeclarationError(f"treatment {name!r} ({type(modality).__name__}) must declare " + "; ".join(problems))
        _CHECKED.add(modality)
