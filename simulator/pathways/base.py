"""The Modality base class: each treatment fills in a few hooks.

``eligible(course)`` is the modality's own clinical rule (e.g. sunitinib for pancreatic primaries
only), applied on top of whatever the strategy's rule says. ``deliver(course)`` is a generator the
patient process delegates to with ``yield from``: it records what happens, lets time pass with
``course.wait`` and returns when the patient progresses, dies or reaches the horizon.

Every number a modality uses is read from the parameter set under the modality's prefix, e.g.
``tace.procedure_mortality``; nothing clinical is hard-coded here.
"""

from __future__ import annotations

from collections.abc import Generator

from ..core.events import EventType

DAYS_PER_MONTH = 365.25 / 12  # calendar identity, not a model parameter


class Modality:
    name: str = ""
    label: str = ""
    kind: str = "systemic"  # procedure | systemic | supportive
    is_ssa = False

    def eligible(self, course) -> bool:
        return True

    def deliver(self, course) -> Generator:  # pragma: no cover - abstract
        raise NotImplementedError
        yield

    # shared pieces -------------------------------------------------------------------------

    def progression_hazard_ratio(self, course) -> float:
        return course.model.progression_hazard_ratio_for(course.patient)

    def time_to_progression(self, course, parameter: str | None = None) -> float:
        name = parameter or f"{self.name}.time_to_progression"
        return course.model.params.dist(name).time_from_uniform(course.rs.uniform(name), self.progression_hazard_ratio(course))

    def hospital_stay(self, course, parameter: str) -> Generator:
        """Stay in hospital after a procedure; returns True if the patient left alive."""
        days = course.model.params.value(parameter)
        if days <= 0:
            return True
        return (yield from course.wait(days / DAYS_PER_MONTH))

    def procedure_death(self, course, parameter: str, window_parameter: str = "procedures.mortality_window_days") -> Generator:
        """Death from the procedure within its reporting window (30-day mortality); returns True if it happened."""
        params = course.model.params
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
            "procedures.carcinoid_crisis", course.model.params.value("procedures.carcinoid_crisis")
        ):
            course.adverse_event("carcinoid_crisis")

    def run_until_progression(self, course, ttp: float, event: EventType = EventType.PROGRESSION) -> Generator:
        """Wait ``ttp`` months from now; progress if the patient is still followed then."""
        if (yield from course.wait(ttp)):
            course.progress(event)
