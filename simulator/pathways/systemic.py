"""Systemic therapy lines: somatostatin analogues, everolimus, sunitinib, PRRT, chemotherapy (CAPTEM),
and the placebo arm virtual trials need. Each continues until progression."""

from __future__ import annotations

import copy
import math
from collections.abc import Generator

from ..core.events import EventType, adverse_event_detail, procedure_detail
from .base import DAYS_PER_MONTH, CostItems, Modality
from .registry import MODALITIES


class SystemicTherapy(Modality):
    kind = "systemic"
    lasting_ineligibility = True  # site, grade and receptor status are fixed traits

    def __init__(
        self,
        name: str,
        label: str,
        sites: tuple[str, ...] | None = None,
        grades: tuple[str, ...] | None = None,
        needs_ssr: bool = False,
        is_ssa: bool = False,
        controls_symptoms: bool = True,
        adverse_event: str | None = None,
        has_effect: bool = True,
        reports_response: bool = False,
        cytostatic: bool = False,
        acquires_resistance: bool = False,
    ) -> None:
        self.name = name
        self.label = label
        self.state = f"on_{name}"
        self.costs = CostItems(per_cycle=f"cost.{name}_per_28_days")
        if is_ssa:  # each injection takes a day-unit chair
            self.resource = "day_unit"
            self.session_minutes = "ssa.injection_minutes"
        self.sites = sites
        self.grades = grades
        self.needs_ssr = needs_ssr
        self.is_ssa = is_ssa
        self.controls_symptoms = controls_symptoms
        self.adverse_event_name = adverse_event
        self.adverse_event_text = adverse_event_detail(adverse_event, name) if adverse_event else ""
        self.has_effect = has_effect
        self.reports_response = reports_response
        # Slows growth without killing cells (analogues, mTOR and tyrosine-kinase inhibitors), unlike PRRT and
        # chemotherapy: the drugs that lower growth by an absolute amount (growth_reduction) under tumour.additive_growth_effect.
        self.cytostatic = cytostatic
        # A targeted drug (mTOR or tyrosine-kinase inhibitor) whose effect on growth may stop before its line
        # ends, under the burden model (tumour.targeted_resistance_rate).
        self.acquires_resistance = acquires_resistance

    def eligible(self, course) -> bool:
        patient = course.patient
        if self.sites is not None and patient.primary_site not in self.sites:
            return False
        if self.grades is not None and patient.grade not in self.grades:
            return False
        return not (self.needs_ssr and not patient.ssr_positive)

    def start(self, course) -> None:
        self.begin(course)
        if self.adverse_event_name and course.rs.bernoulli(f"{self.name}.adverse_event", course.params.value(f"{self.name}.adverse_event")):
            course.adverse_event(self.adverse_event_text)
        if self.controls_symptoms:
            course.try_symptom_control(self.name)
        if self.reports_response and course.rs.bernoulli(
            f"{self.name}.objective_response", course.params.value(f"{self.name}.objective_response")
        ):
            course.record(EventType.RESPONSE, detail=f"{self.name}:objective_response")
            if course.tumour is not None:  # an objective response is a measured shrinkage of the burden
                course.tumour.shrink(course.env.now, course.params.value("tumour.response_burden_remaining"), systemic=True)

    def time_to_progression(self, course, parameter: str | None = None) -> float:
        """Natural-history progression time (by primary site) under this drug's proportional-hazards effect.

        All systemic lines share one stream, so a patient's k-th line draws the same uniform
        whichever drug it is: drug and placebo arms differ only by the drug's effect."""
        params = course.params
        # How the study reading the scans times progression (1 outside virtual trials, see the entry).
        assessment = params.value("trial.progression_assessment_time_ratio")
        tumour = course.tumour
        if tumour is not None:
            now = course.env.now
            multiplier, reduction = self.growth_effect(course)
            course.start_tumour_line(multiplier, reduction=reduction)
            return tumour.time_to_progression(now) * assessment
        hazard_ratio = self.progression_hazard_ratio(course)
        if self.has_effect:
            hazard_ratio *= params.value(self.effect_parameter(course, "progression_hazard_ratio"))
        distribution = params.dist(course.model.natural_history_parameter(course.patient))
        return distribution.time_from_uniform(course.rs.uniform("natural_history.time_to_progression"), hazard_ratio, assessment)

    def effect_parameter(self, course, effect: str) -> str:
        """The parameter of ``effect`` (progression_hazard_ratio, growth_multiplier, growth_reduction) for this
        line, in both disease models: ``ssa.rechallenge_<effect>`` for an analogue given after an earlier
        analogue line, ``<drug>.<effect>`` otherwise."""
        if self.is_ssa and any(MODALITIES[t].is_ssa for t in course.history[:-1]):
            return f"ssa.rechallenge_{effect}"
        return f"{self.name}.{effect}"

    def growth_effect(self, course) -> tuple[float, float]:
        """The burden model's effect on growth: (growth ratio, absolute reduction in multiples of the site's
        grade-1 median growth). A cytostatic drug (an analogue given again included) under
        tumour.additive_growth_effect gives its ``growth_reduction``, any other drug its ``growth_multiplier``."""
        if not self.has_effect:
            return 1.0, 0.0
        params = course.params
        if self.cytostatic and course.model.tumour_model.additive_growth_effect:
            return 1.0, params.value(self.effect_parameter(course, "growth_reduction"))
        return params.value(self.effect_parameter(course, "growth_multiplier")), 0.0

    def deliver(self, course) -> Generator:
        self.start(course)
        ttp = self.time_to_progression(course)
        lost_in = self.effect_lost_in(course)
        if lost_in < math.inf:
            ttp = self.progression_with_resistance(course, lost_in, ttp)
            if lost_in < ttp:
                if not (yield from course.wait(lost_in)):
                    return
                course.tumour.lose_effect(course.env.now)
                ttp -= lost_in
        yield from self.run_until_progression(course, ttp)

    def effect_lost_in(self, course) -> float:
        """Months until the drug stops acting on growth (acquired resistance, tumour.targeted_resistance_rate,
        under the burden model; inf for a drug without it or at rate 0)."""
        rate = course.model.targeted_resistance_rate
        if rate <= 0.0 or not self.acquires_resistance:
            return math.inf
        return -math.log(course.rs.uniform(f"{self.name}.resistance")) / rate

    def progression_with_resistance(self, course, lost_in: float, ttp: float) -> float:
        """The line's time to progression as the study reads it (``ttp`` with the drug acting throughout) when
        the drug stops acting after ``lost_in`` months of the tumour's own time."""
        assessment = course.params.value("trial.progression_assessment_time_ratio")
        if lost_in * assessment >= ttp:  # the tumour progresses on the drug first
            return ttp
        now = course.env.now
        probe = copy.copy(course.tumour)  # the same tumour, to see where it goes once the drug stops acting
        probe.lose_effect(now + lost_in)
        return (lost_in + probe.time_to_progression(now + lost_in)) * assessment


HORMONAL_CRISIS = adverse_event_detail("hormonal_crisis", "prrt")


class PeptideReceptorRadionuclideTherapy(SystemicTherapy):
    """177Lu-DOTATATE: a fixed number of cycles at a fixed interval (NETTER-1), stopped early by progression."""

    def __init__(self) -> None:
        super().__init__("prrt", "177Lu-DOTATATE PRRT", needs_ssr=True, adverse_event="grade3_haematological", reports_response=True)
        self.resource = "nuclear_medicine"
        self.session_minutes = "prrt.slot_minutes"
        self.records_procedures = True
        # The drug is paid per administration at each cycle's procedure event, not per 28 days on it.
        self.costs = CostItems.procedure("prrt", per_administration="cost.prrt_drug_per_administration")

    def deliver(self, course) -> Generator:
        params = course.params
        started = course.env.now
        self.start(course)
        ttp = self.time_to_progression(course)
        cycles = int(params.value("prrt.cycles"))
        interval = params.value("prrt.cycle_interval_weeks") * 7.0 / DAYS_PER_MONTH
        for cycle in range(1, cycles + 1):
            if cycle > 1 and not (yield from course.before_session(self)):
                return  # died or censored while queued for the session (capacity/hospital.py)
            course.procedure(self.name, procedure_detail(self.name, cycle=cycle))
            if course.patient.functional and course.rs.bernoulli("prrt.hormonal_crisis", params.value("prrt.hormonal_crisis")):
                course.adverse_event(HORMONAL_CRISIS)
            if cycle == cycles or started + ttp <= course.env.now + interval:
                break
            if not (yield from course.wait(interval)):
                return
        yield from self.run_until_progression(course, started + ttp - course.env.now)


def systemic_modalities() -> list[Modality]:
    return [
        SystemicTherapy("octreotide_lar", "Octreotide LAR 30 mg every 4 weeks", grades=("G1", "G2"), is_ssa=True, cytostatic=True),
        SystemicTherapy("lanreotide", "Lanreotide 120 mg every 28 days", grades=("G1", "G2"), is_ssa=True, cytostatic=True),
        SystemicTherapy(
            "everolimus",
            "Everolimus 10 mg daily",
            controls_symptoms=False,
            adverse_event="stomatitis",
            cytostatic=True,
            acquires_resistance=True,
        ),
        SystemicTherapy(
            "sunitinib",
            "Sunitinib 37.5 mg daily",
            sites=("pancreas",),
            controls_symptoms=False,
            adverse_event="grade3_4",
            reports_response=True,
            cytostatic=True,
            acquires_resistance=True,
        ),
        PeptideReceptorRadionuclideTherapy(),
        SystemicTherapy(
            "captem",
            "Capecitabine + temozolomide (CAPTEM)",
            controls_symptoms=False,
            adverse_event="grade3_4",
            reports_response=True,
        ),
        SystemicTherapy(
            "temozolomide",
            "Temozolomide monotherapy",
            controls_symptoms=False,
            adverse_event="grade3_4",
            reports_response=True,
        ),
        SystemicTherapy("placebo", "Placebo (virtual-trial control arm)", controls_symptoms=False, has_effect=False),
    ]
