"""Intra-arterial therapy: bland embolisation (TAE), chemo-embolisation (TACE), radioembolisation (Y-90).

A course is 1 to ``iat.max_sessions`` sessions (staged lobar treatment), each with its own
procedure risk, post-embolisation syndrome and hospital stay. Time to progression runs from the
first session.
"""

from __future__ import annotations

from collections.abc import Generator

from ..core.events import EventType, adverse_event_detail, procedure_detail
from .base import DAYS_PER_MONTH, CostItems, Modality


class IntraArterialTherapy(Modality):
    kind = "procedure"
    state = "liver_directed"
    resource = "ir_suite"
    needs_bed = True
    records_procedures = True

    def __init__(self, name: str, label: str) -> None:
        self.name = name
        self.label = label
        self.session_minutes = f"{name}.suite_minutes"
        self.costs = CostItems.procedure(name)
        # Parameter and event names built once, not at every session.
        self.syndrome = f"{name}.post_embolisation_syndrome"
        self.syndrome_event = adverse_event_detail("post_embolisation_syndrome", name)
        self.mortality = f"{name}.procedure_mortality"
        self.response = f"{name}.radiological_response"
        self.response_event = f"{name}:radiological_response"
        self.stay = f"{name}.length_of_stay_days"

    def sessions(self, course) -> int:
        return 1 + course.rs.choice("iat.sessions", course.model.memo("iat.sessions_cumulative", self._cumulative_session_shares))

    @staticmethod
    def _cumulative_session_shares(params) -> tuple[float, ...]:
        limit = int(params.value("iat.max_sessions"))
        shares = [params.value(f"iat.sessions_{k}") for k in range(1, limit + 1)]
        total = sum(shares)
        cumulative = []
        running = 0.0
        for share in shares:
            running += share / total
            cumulative.append(running)
        return tuple(cumulative)

    def deliver(self, course) -> Generator:
        params = course.params
        rs = course.rs
        prefix = self.name
        started = self.begin(course)
        sessions = self.sessions(course)
        stay = params.value(self.stay)
        tumour = course.tumour
        # The burden model times progression from the shrinkage of the first session.
        ttp = self.time_to_progression(course) if tumour is None else 0.0
        for session in range(1, sessions + 1):
            if session > 1 and not (yield from course.before_session(self)):
                return  # died or censored while queued for the session (capacity/hospital.py)
            course.procedure(self.name, procedure_detail(self.name, session=session, los_days=stay))
            self.carcinoid_crisis(course)
            if rs.bernoulli(self.syndrome, params.value(self.syndrome)):
                course.adverse_event(self.syndrome_event)
            if (yield from self.procedure_death(course, self.mortality)):
                return
            if session == 1:
                course.try_symptom_control(prefix)
                responded = rs.bernoulli(self.response, params.value(self.response))
                if responded:
                    course.record(EventType.RESPONSE, detail=self.response_event)
                    if tumour is None:
                        # Shrunken liver disease carries a lower death hazard until it progresses.
                        course.hazard_multiplier = params.value("iat.responder_death_hazard_ratio")
                if tumour is not None:
                    now = course.env.now
                    course.start_tumour_line(params.value("iat.growth_multiplier"))
                    tumour.shrink(
                        now, params.value("tumour.response_burden_remaining" if responded else "iat.nonresponder_burden_remaining")
                    )
                    ttp = now - started + tumour.time_to_progression(now)
            if not (yield from course.wait(stay / DAYS_PER_MONTH)):
                return
            interval = params.value("iat.session_interval_days") / DAYS_PER_MONTH
            if session == sessions or started + ttp <= course.env.now + interval:
                break
            if not (yield from course.wait(interval)):
                return
        yield from self.run_until_progression(course, max(started + ttp - course.env.now, 0.0))


def intra_arterial_modalities() -> list[Modality]:
    return [
        IntraArterialTherapy("tae", "Bland trans-arterial embolisation (TAE)"),
        IntraArterialTherapy("tace", "Trans-arterial chemo-embolisation (TACE)"),
        IntraArterialTherapy("y90", "Yttrium-90 radioembolisation (SIRT)"),
    ]
