"""The state machine the event log must follow (checked by the property tests).

States: ``entry`` -> ``untreated`` -> a treatment state -> (``no_evidence_of_disease`` |
``debulked`` after surgery) -> ``progressed`` -> a treatment state ... and finally ``dead`` or
``censored``. Symptom events, decisions, procedures, adverse events and responses happen within a
state; telotristat is an add-on that starts within a state.
"""

from __future__ import annotations

from ..core.events import EventType, continued_treatment, waiting_resource
from . import MODALITIES

TERMINAL_STATES = frozenset({"dead", "censored"})
TREATMENT_STATES = frozenset(m.state for m in MODALITIES.values())  # as declared by the modalities
POST_SURGERY_STATES = frozenset({"no_evidence_of_disease", "debulked"})
LIVE_STATES = frozenset({"untreated", "progressed"}) | TREATMENT_STATES | POST_SURGERY_STATES
WITHIN_STATE_EVENTS = frozenset(
    {
        EventType.DECISION.value,
        EventType.PROCEDURE.value,
        EventType.ADVERSE_EVENT.value,
        EventType.SYMPTOMS_CONTROLLED.value,
        EventType.SYMPTOMS_RELAPSED.value,
    }
)


def transition_allowed(event: str, from_state: str, to_state: str, detail: str = "") -> bool:
    if event == EventType.ENTRY.value:
        return from_state == "entry" and to_state == "untreated"
    if from_state not in LIVE_STATES:
        return False
    if event in WITHIN_STATE_EVENTS:
        return to_state == from_state
    if event == EventType.TREATMENT_START.value:
        if detail == "telotristat" or continued_treatment(detail) is not None:
            return to_state == from_state
        return from_state in ("untreated", "progressed") and to_state in TREATMENT_STATES
    if event == EventType.RESPONSE.value:
        return to_state == from_state or (from_state == "surgery" and to_state in POST_SURGERY_STATES)
    if event in (EventType.PROGRESSION.value, EventType.RECURRENCE.value):
        # A progression while queued for a resource (capacity/hospital.py) comes before any treatment.
        if waiting_resource(detail) is not None:
            return event == EventType.PROGRESSION.value and to_state == "progressed" and from_state in ("untreated", "progressed")
        return to_state == "progressed" and from_state not in ("untreated", "progressed")
    if event == EventType.DEATH.value:
        return to_state == "dead"
    if event == EventType.CENSORED.value:
        return to_state == "censored"
    return False
