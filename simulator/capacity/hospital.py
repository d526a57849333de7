"""Shared hospital resources in a pathway run: queues whose waits change outcomes.

When a scenario has a ``capacity:`` section, every patient of a (replication, strategy) run lives in one
SimPy environment with the configured resources (``ScheduledResource``). Each patient has a
``ShiftedClock``: the shared calendar seen from the patient's arrival, so the course, the event log and
the outcome tables keep patient time (months since entry) while the resources keep calendar time.

Where a patient queues (README "Capacity planning"):
- ``mdt``: before every treatment decision (at entry and after each progression); one case at a time
  per unit for ``mdt.minutes_per_case``.
- the first session of a treatment, at the resource the treatment declares (``Modality.resource``,
  pathways/base.py): ``theatre`` (hepatectomy, transplant), ``ir_suite`` (ablation,
  TAE, TACE, Y-90), ``nuclear_medicine`` (PRRT), ``day_unit`` (the first somatostatin-analogue
  injection); then a bed (``beds``) for treatments that declare ``needs_bed``. The theatre or suite slot is
  held while the patient waits for the bed (a session lost to a bed shortage).
- later sessions (TAE/TACE/Y-90 sessions 2-4, a second ablation, PRRT cycles 2-4) queue again, ahead of
  new patients; somatostatin-analogue injections every ``ssa.injection_interval_days`` queue for a
  day-unit chair without moving the patient's disease clock.

Priority rule: the lowest priority value first: 0 for a treatment under way (later sessions and cycles,
repeat injections), 1 for a new decision or a new treatment; first come, first served within a
priority. No pre-emption.

While a patient waits for an MDT slot or a first session, the disease clock keeps running
(``HospitalCourse.wait_for``): disease or other-cause death, the horizon and symptom relapses as in
``Course.wait``, and progression at a natural-history time (drawn from the purpose
``waiting.time_to_progression``, under the patient's grade hazard ratio, afresh after each progression).
A progression while waiting is recorded (detail ``waiting:<resource>``), raises the death hazard like any
progression, may make resectable disease unresectable (``waiting.resectable_after_progression``), and
the treatment's eligibility is checked again: a patient no longer eligible leaves the queue and goes
back to the MDT for a new decision (a treatment changed by waiting).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..core.events import DetailError, parse_procedure_detail, waiting_detail
from ..engine.course import Course
from ..errors import ModalityDeclarationError
from ..pathways import MODALITIES
from ..pathways.base import RECORDED_MINUTES
from .resource import ScheduledResource
from .schedule import DAY_NAMES, HOURS_PER_DAY, MONTHS_PER_YEAR, WeeklySchedule, days_to_months, minutes_to_months, months_to_days

if TYPE_CHECKING:  # pragma: no cover
    from ..config import CapacityConfig
    from ..engine.cohort import Patient
    from ..engine.model import PathwayModel

INF = math.inf
CONTINUING, NEW = 0, 1  # priorities: a treatment under way before a new one
GRANTED, PROGRESSED, ENDED = "granted", "progressed", "ended"

WAIT_COLUMNS = ["patient_id", "resource", "treatment", "priority", "requested_month", "wait_days", "outcome", "progressions_while_waiting"]
QUANTILES = (0.5, 0.9, 0.95)


def schedule_from(sessions) -> WeeklySchedule | None:
    if sessions is None:
        return None
    return WeeklySchedule.from_sessions([(DAY_NAMES.index(s.day), s.start, s.hours) for s in sessions])


class ShiftedClock:
    """The shared SimPy environment seen from a patient's arrival: ``now`` is months since entry."""

    __slots__ = ("env", "origin")

    def __init__(self, env, origin: float) -> None:
        self.env = env
        self.origin = origin

    @property
    def now(self) -> float:
        return self.env.now - self.origin

    def timeout(self, delay: float):
        return self.env.timeout(delay)


class HospitalCourse(Course):
    """A course that can wait for a resource, and tells the hospital when a procedure starts."""

    __slots__ = ("hospital", "arrival")

    def procedure(self, kind: str, detail: str) -> None:
        super().procedure(kind, detail)
        self.hospital.on_procedure(self, kind, detail)

    def before_session(self, modality) -> Generator:
        """A later session or cycle queues again for its resources, ahead of new patients."""
        return (yield from self.hospital.admission(self, modality, CONTINUING))

    def wait_for(self, request, progression_at: float = INF) -> Generator:
        """Wait for ``request`` while the disease clock runs. Races the request against disease death,
        other-cause death, the horizon, symptom relapses (recorded on the way) and progression at
        ``progression_at`` (patient time). Returns GRANTED, PROGRESSED or ENDED (dead or censored)."""
        env = self.env
        horizon = self.model.horizon
        while True:
            if request.triggered:
                return GRANTED
            now = env.now
            disease_at = now + self.disease_death_in(now)
            next_at = min(disease_at, self.background_death_at, horizon, self.symptom_relapse_at, progression_at)
            yield request | env.timeout(next_at - now)
            if request.triggered:
                self.spend_exposure(now, env.now - now)
                return GRANTED
            self.spend_exposure(now, next_at - now)
            if next_at == disease_at:
                self.die("disease")
                return ENDED
            if next_at == self.background_death_at:
                self.die(self.background_cause)
                return ENDED
            if next_at == horizon:
                self.censor()
                return ENDED
            if next_at == self.symptom_relapse_at:
                self.symptoms_relapse()
                continue
            return PROGRESSED


class Hospital:
    """The resources of one (replication, strategy) run and their records: the care policy
    (``engine/hooks.py``) that ``PathwayModel`` calls at entry, decisions and sessions."""

    def __init__(self, config: CapacityConfig, arrivals: np.ndarray | None = None, window: tuple[float, float] | None = None) -> None:
        self.config = config
        self.arrivals = arrivals
        self.window = window  # calendar months whose arrivals, waits and resource use count (default: the horizon)
        self.waits: list[tuple] = []
        self.pending: dict[int, list[tuple[str, object]]] = {}  # resources held for the coming procedure

    def attach(self, model: PathwayModel) -> None:
        self.model = model
        self.env = model.env
        if self.window is None:
            self.window = (0.0, model.horizon)
        self.resources = {
            name: ScheduledResource(self.env, name, cfg.capacity, schedule_from(cfg.schedule))
            for name, cfg in self.config.resources.configured().items()
        }
        p = model.params.value
        self.mdt_months = minutes_to_months(p("mdt.minutes_per_case"))
        self.injection_interval = days_to_months(p("ssa.injection_interval_days"))
        self.injection_months = minutes_to_months(p("ssa.injection_minutes"))
        # How long a session holds its resource, as each treatment declares it (pathways/base.py).
        self.session_months = {}
        for name, modality in MODALITIES.items():
            parameter = modality.session_minutes
            if modality.resource is None or parameter == RECORDED_MINUTES:
                continue
            if parameter is None or parameter not in model.params:
                raise ModalityDeclarationError(
                    f"treatment {name!r} queues for {modality.resource}: its session_minutes ({parameter!r}) must name a parameter"
                )
            self.session_months[name] = minutes_to_months(p(parameter))
        self.resectable_after_progression = p("waiting.resectable_after_progression")

    # ------------------------------------------------------------------ the hooks of engine/hooks.py

    def new_course(self, model: PathwayModel, patient: Patient, index: int) -> HospitalCourse:
        arrival = float(self.arrivals[index]) if self.arrivals is not None else 0.0
        course = HospitalCourse(model, patient, ShiftedClock(self.env, arrival))
        course.hospital = self
        course.arrival = arrival
        return course

    def arrive(self, course: HospitalCourse) -> Generator:
        if course.arrival > 0:
            yield self.env.timeout(course.arrival)

    def before_decision(self, course: HospitalCourse) -> Generator:
        """The MDT discusses the patient before every treatment decision."""
        if "mdt" in self.resources:
            request = yield from self.queue(course, "mdt", "mdt", NEW)
            if request is None:
                return False
            self.release_after("mdt", request, self.mdt_months)
        return True

    def admit(self, course: HospitalCourse, modality) -> Generator:
        """The first session of a new treatment."""
        return (yield from self.admission(course, modality, NEW))

    def after_treatment(self, course: HospitalCourse) -> None:
        self.drop_pending(course)

    # ------------------------------------------------------------------ queues

    def queue(self, course: HospitalCourse, name: str, treatment: str, priority: int, modality=None) -> Generator:
        """Queue for one unit of ``name``. Returns the granted request, or None when the patient died,
        was censored, or (for a new treatment, ``modality`` given) is no longer eligible after progressing."""
        resource = self.resources[name]
        requested = self.env.now
        request = resource.request(priority=priority)
        progressions = 0
        watch_progression = priority == NEW
        while True:
            progression_at = course.env.now + self.time_to_progression(course) if watch_progression else INF
            outcome = yield from course.wait_for(request, progression_at)
            if outcome == GRANTED:
                self.note_wait(course, name, treatment, priority, requested, "served", progressions)
                return request
            if outcome == ENDED:
                resource.withdraw(request)
                self.note_wait(
                    course,
                    name,
                    treatment,
                    priority,
                    requested,
                    f"died_{course.death_cause}" if course.death_at is not None else "censored",
                    progressions,
                )
                return None
            progressions += 1
            self.progress_while_waiting(course, name)
            if modality is not None and not modality.eligible(course):
                resource.withdraw(request)
                self.note_wait(course, name, treatment, priority, requested, "ineligible", progressions)
                return None

    def admission(self, course: HospitalCourse, modality, priority: int) -> Generator:
        """Hold the resources a session of ``modality`` needs; False if the patient left the queue."""
        kind = modality.name
        name = modality.resource
        held: list[tuple[str, object]] = []
        if name in self.resources:
            request = yield from self.queue(course, name, kind, priority, modality if priority == NEW else None)
            if request is None:
                return False
            if modality.is_ssa:  # an injection: over in minutes, then every interval
                self.release_after(name, request, self.session_months[kind])
                self.env.process(self.injections(course, course.line + 1, name))
            else:
                held.append((name, request))
        if modality.needs_bed and "beds" in self.resources:
            bed = yield from self.queue(course, "beds", kind, priority, modality if priority == NEW else None)
            if bed is None:
                for resource_name, request in held:
                    self.resources[resource_name].release(request)
                return False
            held.append(("beds", bed))
        if held:
            self.pending[course.patient_id] = held
        return True

    def injections(self, course: HospitalCourse, line: int, name: str) -> Generator:
        """Repeat somatostatin-analogue injections while the line lasts, and after it while the analogue
        continues for a hormonal syndrome (ssa.continued_in_functional_disease), until a new analogue line
        brings injections of its own. They take a day-unit chair; a late injection does not change the
        drug's effect (not modelled)."""
        resource = self.resources[name]
        while True:
            yield self.env.timeout(self.injection_interval)
            if course.ended or not course.on_ssa:
                return
            if course.line != line and (course.ssa_continued is None or MODALITIES[course.current].is_ssa):
                return
            requested = self.env.now
            request = resource.request(priority=CONTINUING)
            yield request
            self.release_after(name, request, self.injection_months)
            self.note_wait(course, name, course.current or "ssa", CONTINUING, requested, "served", 0)

    def on_procedure(self, course: HospitalCourse, kind: str, detail: str) -> None:
        """A session starts: the resources held for it are released after its duration and stay."""
        held = self.pending.pop(course.patient_id, None)
        if not held:
            return
        parsed = parse_procedure_detail(detail)
        for name, request in held:
            if name == "beds":
                if parsed.los_days is None:
                    raise DetailError(f"procedure detail {detail!r} holds a bed: it must record los_days")
                months = days_to_months(parsed.los_days)
            elif parsed.minutes is not None:  # hepatectomy: the operating time of its extent
                months = minutes_to_months(parsed.minutes)
            else:
                months = self.session_months[kind]
            self.release_after(name, request, months)

    def drop_pending(self, course: HospitalCourse) -> None:
        for name, request in self.pending.pop(course.patient_id, []):
            self.resources[name].release(request)

    def release_after(self, name: str, request, months: float) -> None:
        resource = self.resources[name]
        if months <= 0:
            resource.release(request)
        else:
            self.env.timeout(months).callbacks.append(lambda _event: resource.release(request))

    # ------------------------------------------------------------------ the disease while waiting

    def time_to_progression(self, course: HospitalCourse) -> float:
        model = self.model
        distribution = model.params.dist(model.natural_history_parameter(course.patient))
        return distribution.time_from_uniform(
            course.rs.uniform("waiting.time_to_progression"), model.progression_hazard_ratio_for(course.patient)
        )

    def progress_while_waiting(self, course: HospitalCourse, name: str) -> None:
        """A progression while queued: ``Course.progress`` (death hazard, recurrence, symptoms), recorded with
        detail ``waiting:<resource>``; then resectable disease may become unresectable."""
        course.progress(detail=waiting_detail(name), relapse_purpose="waiting.symptom_relapse_at_progression")
        if course.resectable_now and not course.rs.bernoulli("waiting.resectable_after_progression", self.resectable_after_progression):
            course.resectable_now = False

    # ------------------------------------------------------------------ records and statistics

    def note_wait(
        self, course: HospitalCourse, name: str, treatment: str, priority: int, requested: float, outcome: str, progressions: int
    ) -> None:
        self.waits.append(
            (course.patient_id, name, treatment, priority, requested, months_to_days(self.env.now - requested), outcome, progressions)
        )

    def wait_table(self) -> pd.DataFrame:
        return pd.DataFrame.from_records(self.waits, columns=WAIT_COLUMNS)

    def resource_table(self, waits: pd.DataFrame, window: tuple[float, float] | None = None) -> pd.DataFrame:
        """Per resource over the statistics window (or ``window``, a part of it): utilisation, queue length,
        waits, procedures and bed-days a year."""
        start, end = window if window is not None else self.window
        years = (end - start) / MONTHS_PER_YEAR
        rows = []
        for name, resource in self.resources.items():
            in_use, queue = resource.time_average(start, end)
            times, _, queued = resource.step_arrays()
            inside = (times >= start) & (times <= end)
            open_months = resource.open_time(start, end)
            served = waits[(waits["resource"] == name) & (waits["outcome"] == "served")]["wait_days"].to_numpy(dtype=float)
            busy_server_months = in_use * (end - start)
            busy_open, busy_closed = resource.busy_split(start, end)
            row = {
                "resource": name,
                "capacity": resource.capacity,
                "open_share": open_months / (end - start),
                # Utilisation is the share of the open time's capacity in use (at most 1); work that runs on
                # after a session closes is reported apart as overrun, not as utilisation above 1.
                "utilisation": busy_open / (resource.capacity * open_months) if open_months > 0 else math.nan,
                "overrun_hours_per_year": months_to_days(busy_closed) * HOURS_PER_DAY / years,
                "mean_queue": queue,
                "max_queue": float(queued[inside].max()) if inside.any() else 0.0,
                "max_in_use": resource.max_in_use,
                "waits": len(served),
                "left_queue": int(((waits["resource"] == name) & (waits["outcome"] != "served")).sum()),
                "wait_mean_days": float(served.mean()) if len(served) else math.nan,
            }
            for q in QUANTILES:
                row[f"wait_p{round(q * 100)}_days"] = float(np.quantile(served, q)) if len(served) else math.nan
            row["procedures_per_year"] = len(served) / years
            row["busy_hours_per_year"] = months_to_days(busy_server_months) * HOURS_PER_DAY / years
            row["bed_days_per_year"] = months_to_days(busy_server_months) / years if name == "beds" else math.nan
            rows.append(row)
        return pd.DataFrame(rows)

    def queue_table(self, step: float = 1.0) -> pd.DataFrame:
        """Mean queue length and units in use per month of the calendar, per resource."""
        start, end = self.window
        edges = np.arange(0.0, end + step, step)
        rows = []
        for name, resource in self.resources.items():
            used, queued = resource.time_averages(edges)
            rows.append(
                pd.DataFrame({"resource": name, "month": edges[:-1], "in_use": used, "queue": queued, "in_window": edges[:-1] >= start})
            )
        return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["resource", "month", "in_use", "queue", "in_window"])
