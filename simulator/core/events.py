"""The event log: one flat, typed record per thing that happens to a patient.

Records are appended as plain tuples while the simulation runs (cheap) and turned into a pandas
DataFrame once at the end. Outcome tables are derived from this log.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
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
EVENT_CODES = {name: code for code, name in enumerate(EVENT_NAMES)}
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
        import numpy as np
        import pandas as pd  # here: `validate` and `params` start without pandas (issue 20 item 4)

        # Built column by column from typed arrays: a DataFrame from the records, then cast, cost ten
        # times as much for a small log, which a sensitivity analysis of small cohorts pays on every run.
        # Columns by comprehension, not zip(*records): zip makes an iterator per record, whose allocations
        # start the cyclic collector over the whole log again and again (80 ms instead of 6 for 60,000 records).
        records = self.records
        n = len(records)
        patient_id, time, event, from_state, to_state, detail = ([record[i] for record in records] for i in range(len(RECORD_FIELDS)))
        return pd.DataFrame(
            {
                "replication": np.full(n, self.replication, dtype=np.int32),
                "strategy": np.full(n, self.strategy, dtype=object),
                "patient_id": np.array(patient_id, dtype=np.int64),
                "time": np.array(time, dtype=np.float64),
                # The same categories (every event type, in declaration order) in every log, so that
                # logs of several runs concatenate without losing the categorical type.
                "event": pd.Categorical.from_codes(
                    np.array([EVENT_CODES[name] for name in event], dtype=np.int8), categories=pd.Index(EVENT_NAMES)
                ),
                "from_state": np.array(from_state, dtype=object),
                "to_state": np.array(to_state, dtype=object),
                "detail": np.array(detail, dtype=object),
            },
            copy=False,
        )


# ------------------------------------------------------------------------------ details
# What a detail says is written and read here only: the modalities encode, the hospital and the
# valuation parse, and a detail that does not follow the grammar is an error, never a silent 0.


class DetailError(ValueError):
    """An event detail that does not follow its grammar (a programming error in whoever wrote it)."""


# Procedure details: ``<kind>[;<field>=<value>]...``, the fields in this order when present.
PROCEDURE_FIELDS = ("session", "cycle", "extent", "ablation", "minutes", "los_days")


@dataclass(frozen=True, slots=True)
class ProcedureDetail:
    kind: str
    session: int | None = None  # the session of a multi-session procedure (ablation, TAE/TACE/Y-90)
    cycle: int | None = None  # the cycle of a cyclic treatment (PRRT)
    extent: str | None = None  # hepatectomy: minor or major
    ablation: bool | None = None  # hepatectomy: with intra-operative ablation
    minutes: float | None = None  # theatre minutes, when the procedure records its own
    los_days: float | None = None  # the hospital stay after it


def procedure_detail(
    kind: str,
    *,
    session: int | None = None,
    cycle: int | None = None,
    extent: str | None = None,
    ablation: bool | None = None,
    minutes: float | None = None,
    los_days: float | None = None,
) -> str:
    """The detail text of a procedure event (parsed back by ``parse_procedure_detail``)."""
    text = kind
    if session is not None:
        text += f";session={session}"
    if cycle is not None:
        text += f";cycle={cycle}"
    if extent is not None:
        text += f";extent={extent}"
    if ablation is not None:
        text += f";ablation={int(ablation)}"
    if minutes is not None:
        text += f";minutes={minutes:g}"
    if los_days is not None:
        text += f";los_days={los_days:g}"
    return text


def _flag(raw: str) -> bool:
    if raw not in ("0", "1"):
        raise ValueError(raw)
    return raw == "1"


_PROCEDURE_READERS: dict[str, Callable[[str], object]] = {
    "session": int,
    "cycle": int,
    "extent": str,
    "ablation": _flag,
    "minutes": float,
    "los_days": float,
}


def parse_procedure_detail(text: str) -> ProcedureDetail:
    """The fields of a procedure detail; DetailError for an unknown, repeated or unreadable field."""
    kind, *items = text.split(";")
    if not kind or "=" in kind:
        raise DetailError(f"procedure detail {text!r}: expected the procedure kind first")
    fields: dict[str, Any] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        reader = _PROCEDURE_READERS.get(name)
        if not sep or reader is None:
            raise DetailError(f"procedure detail {text!r}: unknown field {item!r} (known: {', '.join(PROCEDURE_FIELDS)})")
        if name in fields:
            raise DetailError(f"procedure detail {text!r}: field {name!r} given twice")
        try:
            fields[name] = reader(raw)
        except ValueError:
            raise DetailError(f"procedure detail {text!r}: unreadable {name}={raw!r}") from None
        if not raw:
            raise DetailError(f"procedure detail {text!r}: empty {name}")
    return ProcedureDetail(kind, **fields)


# Adverse-event details: ``<treatment>:<type>``, or ``<type>`` for one that belongs to no treatment.
@dataclass(frozen=True, slots=True)
class AdverseEventDetail:
    type: str
    treatment: str | None = None


def adverse_event_detail(type_: str, treatment: str | None = None) -> str:
    return type_ if treatment is None else f"{treatment}:{type_}"


def parse_adverse_event_detail(text: str) -> AdverseEventDetail:
    parts = text.split(":")
    if len(parts) > 2 or not all(parts):
        raise DetailError(f"adverse-event detail {text!r}: expected <treatment>:<type> or <type>")
    return AdverseEventDetail(parts[-1], parts[0] if len(parts) == 2 else None)


# The detail of a progression while queued for a hospital resource: ``waiting:<resource>``.
WAITING_PREFIX = "waiting:"


def waiting_detail(resource: str) -> str:
    return WAITING_PREFIX + resource


def waiting_resource(detail: str) -> str | None:
    """The resource of a waiting-progression detail; None for any other detail."""
    return detail[len(WAITING_PREFIX) :] if detail.startswith(WAITING_PREFIX) else None


# A somatostatin analogue kept through later lines for a hormonal syndrome (engine/course.py progress):
# a treatment start within the state, as telotristat's, whose detail names the analogue.
CONTINUED_SUFFIX = ":continued"


def continued_detail(treatment: str) -> str:
    return treatment + CONTINUED_SUFFIX


def continued_treatment(detail: str) -> str | None:
    """The analogue of a continuation detail; None for any other detail."""
    return detail[: -len(CONTINUED_SUFFIX)] if detail.endswith(CONTINUED_SUFFIX) else None
