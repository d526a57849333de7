"""The event log: one flat, typed record per thing that happens to a patient.

Records are appended as plain tuples while the simulation runs (cheap) and turned into a pandas
DataFrame once at the end. Outcome tables are derived from this log.
"""

from __future__ import annotations

from enum import Enum

import pandas as pd


class EventType(str, Enum):
    ENTRY = "entry"
    DECISION = "decision"
    TREATMENT_START = "treatment_start"
    TREATMENT_END = "treatment_end"
    PROCEDURE = "procedure"
    ADVERSE_EVENT = "adverse_event"
    RESPONSE = "response"
    PROGRESSION = "progression"
    RECURRENCE = "recurrence"
    SYMPTOMS_CONTROLLED = "symptoms_controlled"
    SYMPTOMS_RELAPSED = "symptoms_relapsed"
    DEATH = "death"
    CENSORED = "censored"


EVENT_NAMES = tuple(e.value for e in EventType)
TERMINAL_EVENTS = frozenset({EventType.DEATH.value, EventType.CENSORED.value})

# Columns of one record, in order. ``replication`` and ``strategy`` are constant within one model run
# and are added when the log is converted.
RECORD_FIELDS = ("patient_id", "time", "event", "from_state", "to_state", "detail")
LOG_COLUMNS = ("replication", "strategy", *RECORD_FIELDS)


class EventLog:
    """Append-only list of event tuples for one (replication, strategy) run."""

    __slots__ = ("replication", "strategy", "records")

    def __init__(self, replication: int, strategy: str) -> None:
        self.replication = replication
        self.strategy = strategy
        self.records: list[tuple] = []

    def append(self, patient_id: int, time: float, event: EventType, from_state: str, to_state: str, detail: str = "") -> None:
        self.records.append((patient_id, time, event._value_, from_state, to_state, detail))

    def __len__(self) -> int:
        return len(self.records)

    def to_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame.from_records(self.records, columns=list(RECORD_FIELDS))
        frame.insert(0, "strategy", self.strategy)
        frame.insert(0, "replication", self.replication)
        # The same categories (every event type, in declaration order) in every log, so that logs of
        # several runs concatenate without losing the categorical type.
        frame["event"] = pd.Categorical(frame["event"], categories=EVENT_NAMES)
        return frame.astype({"replication": "int32", "patient_id": "int64", "time": "float64"})
