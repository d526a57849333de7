"""Hepatectomy (minor or major, with or without intra-operative ablation) and liver transplantation."""

from __future__ import annotations

from collections.abc import Generator

from ..core.events import EventType, adverse_event_detail, procedure_detail
from .base import DAYS_PER_MONTH, RECORDED_MINUTES, CostItems, Modality


class Hepatectomy(Modality):
    name = "hepatectomy"
    label = "Hepatectomy (with intra-operative ablation of small residual lesions where needed)"
    kind = "procedure"
    state = "surgery"
    resource = "theatre"
    needs_bed = True
    session_minutes = RECORDED_MINUTES  # the operating time of the drawn extent, in the procedure's detail
    records_procedures = True
    costs = CostItems.procedure("hepatectomy", bottom_up=True)
    lasting_ineligibility = True  # resectability is not regained and operations only add up without treatment

    def eligible(self, course) -> bool:
        limit = course.params.value("hepatectomy.max_operations")
        return course.resectable_now and course.procedures.get("hepatectomy", 0) < limit

    def deliver(self, course) -> Generator:
        params = course.params
        rs = course.rs
        started = self.begin(course)
        major = rs.bernoulli("hepatectomy.major", params.value("hepatectomy.major_share"))
        extent = "major" if major else "minor"
        ablation = rs.bernoulli("hepatectomy.intraoperative_ablation", params.value("hepatectomy.intraoperative_ablation"))
        complication = rs.bernoulli("hepatectomy.major_morbidity", params.value("hepatectomy.major_morbidity"))
        stay = params.value(f"hepatectomy.length_of_stay_{extent}_days")
        if complication:
            stay += params.value("hepatectomy.complication_extra_days")
        minutes = params.value(f"hepatectomy.duration_{extent}_minutes")
        course.procedure(self.name, procedure_detail(self.name, extent=extent, ablation=ablation, minutes=minutes, los_days=stay))
        self.carcinoid_crisis(course)
        if complication:
            course.adverse_event(adverse_event_detail("major_morbidity", self.name))
        if (yield from self.procedure_death(course, "hepatectomy.perioperative_mortality")):
            return
        course.try_symptom_control("hepatectomy")
        if not (yield from course.wait(stay / DAYS_PER_MONTH)):
            return
        # A hepatectomy removes liver disease only: with extrahepatic disease the patient is never
        # left without evidence of disease (the draw is still made, to keep common random numbers).
        complete = (
            rs.bernoulli("hepatectomy.complete_resection", params.value(f"hepatectomy.complete_resection_{course.patient.burden}"))
            and not course.patient.extrahepatic
        )
        if course.resected_at is None:
            course.resected_at = started
        tumour = course.tumour
        if tumour is not None:
            now = course.env.now
            if complete:
                recurrence = course.leave_residual_disease()
                course.record(EventType.RESPONSE, "no_evidence_of_disease", "complete_resection")
                ttp = now - started + recurrence
            else:
                course.start_tumour_line(1.0).shrink(now, params.value("hepatectomy.debulking_burden_remaining"))
                course.record(EventType.RESPONSE, "debulked", "incomplete_resection")
                ttp = now - started + tumour.time_to_progression(now)
        elif complete:
            # What recurs after a complete resection is smaller disease, but the original burden
            # still says something about its biology: its hazard ratio is kept to a calibrated power.
            course.burden_multiplier = course.burden_multiplier ** params.value("hepatectomy.residual_burden_effect")
            course.hazard_multiplier = params.value("hepatectomy.ned_death_hazard_ratio")
            course.record(EventType.RESPONSE, "no_evidence_of_disease", "complete_resection")
            ttp = self.time_to_progression(course, "hepatectomy.time_to_recurrence")
        else:
            course.hazard_multiplier = params.value("hepatectomy.debulked_death_hazard_ratio")
            course.record(EventType.RESPONSE, "debulked", "incomplete_resection")
            ttp = self.time_to_progression(course, "hepatectomy.time_to_progression_debulked")
        remaining = started + ttp - course.env.now
        if (yield from course.wait(max(remaining, 0.0))):
            intrahepatic = rs.bernoulli("hepatectomy.recurrence_intrahepatic", params.value("hepatectomy.recurrence_intrahepatic"))
            course.resectable_now = intrahepatic and rs.bernoulli(
                "hepatectomy.resectable_at_recurrence", params.value("hepatectomy.resectable_at_recurrence")
            )
            course.progress(EventType.RECURRENCE if complete else EventType.PROGRESSION)
            course.record(EventType.DECISION, detail="recurrence=intrahepatic" if intrahepatic else "recurrence=extrahepatic")


class LiverTransplant(Modality):
    """Off by default: only a strategy rule that names it can select it, for highly selected patients."""

    name = "transplant"
    label = "Liver transplantation"
    kind = "procedure"
    state = "surgery"
    resource = "theatre"
    needs_bed = True
    session_minutes = "transplant.theatre_minutes"
    records_procedures = True
    costs = CostItems.procedure("transplant", bottom_up=True)
    lasting_ineligibility = True  # fixed traits, an age that only grows, a transplant once

    def eligible(self, course) -> bool:
        patient = course.patient
        params = course.params
        age_now = patient.age + course.env.now / 12.0
        return (
            not patient.extrahepatic
            and patient.grade in ("G1", "G2")
            and age_now <= params.value("transplant.max_age")
            and course.procedures.get("transplant", 0) == 0
        )

    def deliver(self, course) -> Generator:
        params = course.params
        started = self.begin(course)
        course.procedure(self.name, procedure_detail(self.name, los_days=params.value("transplant.length_of_stay_days")))
        self.carcinoid_crisis(course)
        if (yield from self.procedure_death(course, "transplant.perioperative_mortality")):
            return
        course.try_symptom_control("transplant")
        if not (yield from course.wait(params.value("transplant.length_of_stay_days") / DAYS_PER_MONTH)):
            return
        tumour = course.tumour
        if tumour is not None:
            now = course.env.now
            recurrence = course.leave_residual_disease()
            course.record(EventType.RESPONSE, "no_evidence_of_disease", "transplant")
            ttp = now - started + recurrence
        else:
            course.burden_multiplier = course.model.burden_hazard_ratio("lt25")
            course.hazard_multiplier = params.value("transplant.ned_death_hazard_ratio")
            course.record(EventType.RESPONSE, "no_evidence_of_disease", "transplant")
            ttp = self.time_to_progression(course, "transplant.time_to_recurrence")
        yield from self.run_until_progression(course, max(started + ttp - course.env.now, 0.0), EventType.RECURRENCE)
