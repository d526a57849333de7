"""No anticancer treatment: active surveillance (treat at progression) and best supportive care.
Both follow the natural history, i.e. the progression time seen in the trials' placebo arms."""

from __future__ import annotations

import math
from collections.abc import Generator

from .base import MAX_LINES, Modality


class NoActiveTreatment(Modality):
    kind = "supportive"

    def __init__(self, name: str, label: str) -> None:
        self.name = name
        self.label = label
        self.state = name

    def deliver(self, course) -> Generator:
        self.begin(course)
        if course.line > MAX_LINES:  # past the safety net: followed until death or the horizon, no more progressions
            yield from self.run_until_progression(course, math.inf)
            return
        tumour = course.tumour
        if tumour is not None:
            restaged = course.last_progressed_on in SUPPORTIVE_NAMES
            if restaged and progression_changes_nothing(course):
                # Under the burden model a progression is an observation: once one has been seen on supportive
                # care, the next would change neither the treatment nor the symptoms nor survival, so the
                # patient is no longer restaged and is followed until death or the horizon.
                yield from self.run_until_progression(course, math.inf)
                return
            # Restaged after progressing with no treatment: nothing changed that would change the growth, so
            # the line's own variation of the growth rate is not drawn anew (it is for every new treatment).
            course.start_tumour_line(1.0, same_growth=restaged)
            yield from self.run_until_progression(course, tumour.time_to_progression(course.env.now))
            return
        params = course.params
        distribution = params.dist(course.model.natural_history_parameter(course.patient))
        ttp = distribution.time_from_uniform(
            course.rs.uniform("natural_history.time_to_progression"), self.progression_hazard_ratio(course)
        )
        yield from self.run_until_progression(course, ttp)


def progression_changes_nothing(course) -> bool:
    """True when a further progression would lead to no treatment (the strategy is settled), could not bring
    back symptoms (none under control) and would not end telotristat (valued up to the next progression)."""
    return course.symptoms != "controlled" and not course.on_telotristat and course.model.strategy.settled(course)


LABELS = {
    "surveillance": "Active surveillance (treatment deferred to progression)",
    "best_supportive_care": "Best supportive care",
}
SUPPORTIVE_NAMES = tuple(LABELS)


def supportive_modalities() -> list[Modality]:
    return [NoActiveTreatment(name, label) for name, label in LABELS.items()]
