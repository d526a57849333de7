"""Thermal ablation (radiofrequency or microwave) as the liver-directed treatment on its own."""

from __future__ import annotations

from collections.abc import Generator

from ..core.events import EventType, adverse_event_detail, procedure_detail
from .base import DAYS_PER_MONTH, CostItems, Modality

MORBIDITY = adverse_event_detail("morbidity", "ablation")


class ThermalAblation(Modality):
    name = "ablation"
    label = "Thermal ablation (RFA/MWA)"
    kind = "procedure"
    state = "liver_directed"
    resource = "ir_suite"
    needs_bed = True
    session_minutes = "ablation.suite_minutes"
    records_procedures = True
    costs = CostItems.procedure("ablation")
    lasting_ineligibility = True  # the burden band at entry does not change

    def eligible(self, course) -> bool:
        # Ablation alone treats limited-volume liver disease only.
        return course.patient.burden == "lt25"

    def deliver(self, course) -> Generator:
        params = course.params
        rs = course.rs
        started = self.begin(course)
        sessions = 1 + int(rs.bernoulli("ablation.repeat_session", params.value("ablation.repeat_session")))
        stay = params.value("ablation.length_of_stay_days")
        for session in range(1, sessions + 1):
            if session > 1 and not (yield from course.before_session(self)):
                return  # died or censored while queued for the session (capacity/hospital.py)
            course.procedure(self.name, procedure_detail(self.name, session=session, los_days=stay))
            self.carcinoid_crisis(course)
            if rs.bernoulli("ablation.morbidity", params.value("ablation.morbidity")):
                course.adverse_event(MORBIDITY)
            if (yield from self.procedure_death(course, "ablation.procedure_mortality")):
                return
            if session == 1:
                course.try_symptom_control("ablation")
            if not (yield from course.wait(stay / DAYS_PER_MONTH)):
                return
            if session < sessions and not (yield from course.wait(params.value("ablation.repeat_interval_days") / DAYS_PER_MONTH)):
                return
        tumour = course.tumour
        if tumour is not None:
            # Ablation of every visible lesion leaves microscopic disease, as a complete resection does,
            # and more of it (lesions missed or incompletely ablated: local recurrence).
            now = course.env.now
            ttp = now - started + course.leave_residual_disease("tumour.residual_after_ablation")
        else:
            ttp = self.time_to_progression(course, "ablation.time_to_progression")
        if (yield from course.wait(max(started + ttp - course.env.now, 0.0))):
            local = rs.bernoulli("ablation.local_recurrence_share", params.value("ablation.local_recurrence_share"))
            course.progress(EventType.PROGRESSION)
            course.record(EventType.DECISION, detail="progression=local_recurrence" if local else "progression=new_lesions")
