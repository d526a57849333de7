"""One patient's course: mutable runtime state plus the waiting primitive the modalities use.

The SimPy process is one generator per patient (``PathwayModel.patient_process``); modalities are
delegated to with ``yield from`` so that no sub-process is created per state.

Death races three clocks. Other-cause death is fixed at entry from the life table. Disease death
uses one exponential "exposure" drawn at entry: the patient dies of disease when the cumulative
disease hazard reaches it, so the hazard may change with every state (progression, resection...)
while the same patient keeps the same underlying draw in every strategy (common random numbers).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ..core.events import EventType, continued_detail
from ..core.process import Waiting

if TYPE_CHECKING:  # pragma: no cover
    from .cohort import Patient
    from .model import PathwayModel
    from .tumour import TumourState

INF = math.inf


class Course:
    __slots__ = (
        "model",
        "params",
        "env",
        "patient",
        "rs",
        "state",
        "alive",
        "ended",
        "line",
        "progressions",
        "history",
        "rule_uses",
        "current",
        "last_progressed_on",
        "hazard_multiplier",
        "base_rate",
        "exposure",
        "background_death_at",
        "background_cause",
        "symptoms",
        "symptom_relapse_at",
        "uncontrolled_since",
        "months_uncontrolled",
        "first_control_at",
        "control_months",
        "controlled_since",
        "death_at",
        "death_cause",
        "procedures",
        "line_starts",
        "line_pfs",
        "first_recurrence_at",
        "resected_at",
        "on_ssa",
        "ssa_continued",
        "telotristat_used",
        "on_telotristat",
        "adverse_events",
        "resectable_now",
        "burden_multiplier",
        "patient_id",
        "_records",
        "horizon",
        "progression_factor",
        "share_draws",
        "tumour",
    )

    def __init__(self, model: PathwayModel, patient: Patient, env) -> None:
        self.model = model
        self.params = model.params  # what the modalities read, without going through the model
        self.env = env  # the shared SimPy environment, or the patient's own PatientClock
        self.patient = patient
        self.patient_id = patient.patient_id
        self.horizon = model.horizon
        self._records = model.log.records
        self.rs = model.streams.for_patient(patient.patient_id)
        self.state = "entry"
        self.alive = True
        self.ended = False
        self.line = 0
        self.progressions = 0
        self.progression_factor = 1.0  # disease.death_hazard_ratio_per_progression ** progressions (capped)
        self.history: list[str] = list(patient.prior_treatments)
        self.rule_uses: dict[int, int] = {}
        self.current: str | None = None
        self.last_progressed_on: str | None = None
        self.hazard_multiplier = 1.0
        self.exposure = -math.log(self.rs.uniform("death.disease_exposure"))
        self.background_death_at = model.background_death_time(patient, self.rs.uniform("death.background"))
        self.background_cause = "other"
        # Under the burden model, disease deaths that no tumour burden explains (tumour.burden_free_death_hazard):
        # a constant hazard, so its clock is drawn once at entry beside other-cause death.
        burden_free = model.burden_free_death_rate
        if burden_free > 0.0:
            at = -math.log(self.rs.uniform("death.burden_free")) / burden_free
            if at < self.background_death_at:
                self.background_death_at = at
                self.background_cause = "disease"
        self.symptoms = "uncontrolled" if patient.functional else "none"
        self.symptom_relapse_at = INF
        self.uncontrolled_since: float | None = 0.0 if patient.functional else None
        self.months_uncontrolled = 0.0
        self.first_control_at: float | None = None
        self.control_months = 0.0
        self.controlled_since: float | None = None
        self.death_at: float | None = None
        self.death_cause = ""
        self.procedures: dict[str, int] = {}
        self.line_starts: list[float] = []
        self.line_pfs: list[tuple[float, bool]] = []
        self.first_recurrence_at: float | None = None
        self.resected_at: float | None = None
        self.on_ssa = False
        self.ssa_continued: str | None = None  # the analogue kept through later lines for a hormonal syndrome
        self.telotristat_used = False
        self.on_telotristat = False  # valued from its start to the next progression (economics/valuation.py)
        self.adverse_events = 0
        self.resectable_now = patient.resectable
        self.share_draws: dict[str, float] | None = None  # treatment -> the patient's uniform for rules with a share
        # The burden model's tumour (engine/tumour.py); None under the hazard-ratio model. It keeps the
        # disease-death clock itself (the exposure is spent as the burden it follows changes), so the
        # hazard-ratio model's rate is not needed beside it.
        self.tumour = model.tumour_state(patient, self.exposure)
        if self.tumour is None:
            self.base_rate = model.disease_death_rate(patient)
            self.burden_multiplier = model.burden_hazard_ratio(patient.burden)
        else:
            self.base_rate = 0.0
            self.burden_multiplier = 1.0

    def share_draw(self, treatment: str) -> float:
        """The patient's one uniform for strategy rules with a ``share`` of ``treatment``: drawn at first use and
        kept, so that a rule tested at several decisions gives the same answer, and the same in every strategy."""
        draws = self.share_draws
        if draws is None:
            draws = self.share_draws = {}
        value = draws.get(treatment)
        if value is None:
            value = draws[treatment] = self.rs.uniform(f"strategy.share.{treatment}")
        return value

    # ------------------------------------------------------------------ recording

    def record(self, event: EventType, to_state: str | None = None, detail: str = "") -> None:
        new_state = self.state if to_state is None else to_state
        # The hot path: one tuple straight onto the log's list (EventLog.append without the call).
        self._records.append((self.patient_id, self.env.now, event._value_, self.state, new_state, detail))
        self.state = new_state

    def procedure(self, kind: str, detail: str) -> None:
        """A session of procedure ``kind``; ``detail`` is its ``core.events.procedure_detail`` text."""
        self.procedures[kind] = self.procedures.get(kind, 0) + 1
        self.record(EventType.PROCEDURE, detail=detail)

    def adverse_event(self, detail: str) -> None:
        """An adverse event; ``detail`` is its ``core.events.adverse_event_detail`` text."""
        self.adverse_events += 1
        self.record(EventType.ADVERSE_EVENT, detail=detail)

    def before_session(self, modality) -> Waiting:
        """Before a later session or cycle of the treatment under way. A course of a capacity run queues
        for the session's resources here (capacity/hospital.py); this one goes straight on. Returns
        False if the patient died or was censored meanwhile."""
        return True
        yield  # a generator, as the overriding hooks are

    # ------------------------------------------------------------------ death and time

    def disease_death_rate(self) -> float:
        """Entry traits x tumour burden x treatment state x progressions so far (``wait`` inlines it)."""
        return self.base_rate * self.burden_multiplier * self.hazard_multiplier * self.progression_factor

    def disease_death_in(self, now: float) -> float:
        """Months from ``now`` until disease death if nothing changes meanwhile (``wait`` inlines it)."""
        if self.tumour is not None:
            return self.tumour.death_at() - now
        rate = self.disease_death_rate()
        return self.exposure / rate if rate > 0 else INF

    def spend_exposure(self, now: float, step: float) -> None:
        """Use up the disease hazard accumulated over ``[now, now + step]``."""
        if self.tumour is None:  # the tumour spends its own exposure when it changes
            self.exposure -= self.disease_death_rate() * step

    def start_tumour_line(self, growth_multiplier: float, same_growth: bool = False, reduction: float = 0.0) -> TumourState:
        """A new line under the burden model: the treatment's growth ratio times the line's own variation
        of the growth rate (log-normal, the line-to-line part of ``tumour.growth_sd_log``, engine/tumour.py
        ``within_patient_spread``), less an absolute ``reduction`` (a cytostatic drug under
        tumour.additive_growth_effect), and the error with which its progression will be read
        (``tumour.progression_reading_sd_log``); one draw each per line, so the k-th line of a patient
        varies alike in every strategy. ``same_growth``: the disease goes on growing as it was
        (restaging with no change of treatment); the line's draws are still made."""
        tumour = self.tumour
        assert tumour is not None
        model = self.model
        spread = model.tumour_line_spread
        factor = math.exp(spread * self.rs.normal("tumour.line_growth")) if spread > 0 else 1.0
        if tumour.entry_line_factor is not None:  # the first line goes on at the growth shown before entry
            factor, tumour.entry_line_factor = tumour.entry_line_factor, None
        reading = model.tumour_reading_spread
        error = reading * self.rs.normal("tumour.progression_reading") if reading > 0 else 0.0
        if same_growth:
            tumour.restage(self.env.now, error)
        else:
            tumour.start_line(self.env.now, growth_multiplier, factor, error, reduction)
        return tumour

    def leave_residual_disease(self, residual_parameter: str = "tumour.residual_after_complete_resection") -> float:
        """A complete resection, ablation or transplant under the burden model: a new, untreated line, and
        microscopic disease left that varies between operations (log-normal around its median,
        ``residual_parameter``, one draw per operation); returns the months until it is visible again."""
        tumour = self.start_tumour_line(1.0)
        params = self.params
        residual = params.value(residual_parameter)
        tumour.leave_residual(self.env.now, residual * math.exp(params.value("tumour.residual_sd_log") * self.rs.normal("tumour.residual")))
        return tumour.time_to_recurrence(self.env.now)

    def die(self, cause: str) -> None:
        if self.symptoms == "uncontrolled" and self.uncontrolled_since is not None:
            self.months_uncontrolled += self.env.now - self.uncontrolled_since
            self.uncontrolled_since = None
        if self.symptoms == "controlled" and self.controlled_since is not None:
            self.control_months += self.env.now - self.controlled_since
        self.alive = False
        self.ended = True
        self.death_at = self.env.now
        self.death_cause = cause
        self.close_line(progressed=False)
        self.record(EventType.DEATH, "dead", cause)

    def censor(self) -> None:
        if self.symptoms == "uncontrolled" and self.uncontrolled_since is not None:
            self.months_uncontrolled += self.env.now - self.uncontrolled_since
            self.uncontrolled_since = None
        if self.symptoms == "controlled" and self.controlled_since is not None:
            self.control_months += self.env.now - self.controlled_since
        self.ended = True
        self.close_line(progressed=False)
        self.record(EventType.CENSORED, "censored")

    def wait(self, duration: float) -> Waiting:
        """Let ``duration`` months pass unless death or the horizon comes first.

        Returns True when the whole duration passed with the patient alive and under follow-up.
        Symptom relapses that fall inside the wait are recorded on the way. Under the burden model the
        disease hazard follows the growing tumour (``engine/tumour.py``); otherwise it is constant
        between events (``disease_death_rate``, inlined here: this is the engine's hot path).
        """
        env = self.env
        horizon = self.horizon
        tumour = self.tumour
        end = env.now + duration
        while True:
            now = env.now
            if tumour is None:
                rate = self.base_rate * self.burden_multiplier * self.hazard_multiplier * self.progression_factor
                disease_at = now + self.exposure / rate if rate > 0 else INF
            else:
                disease_at = tumour._death_at  # settled once per change of the tumour (TumourState.death_at)
                if disease_at is None:
                    disease_at = tumour.death_at()
            next_at = min(end, disease_at, self.background_death_at, horizon, self.symptom_relapse_at)
            step = next_at - now
            if step > 0:
                yield env.timeout(step)
                if tumour is None:  # the tumour spends its own exposure when it changes
                    self.exposure -= rate * step
            if next_at == disease_at:
                self.die("disease")
                return False
            if next_at == self.background_death_at:
                self.die(self.background_cause)
                return False
            if next_at == horizon and horizon <= end:
                self.censor()
                return False
            if next_at == self.symptom_relapse_at:
                self.symptoms_relapse()
                if next_at < end:
                    continue
            return True

    # ------------------------------------------------------------------ symptoms

    def try_symptom_control(self, prefix: str) -> None:
        """A treatment's chance to bring uncontrolled hormonal symptoms under control."""
        if self.symptoms != "uncontrolled":
            return
        params = self.model.params
        if not self.rs.bernoulli(f"{prefix}.symptom_response", params.value(f"{prefix}.symptom_response")):
            return
        duration = params.dist(f"{prefix}.symptom_control_duration").time_from_uniform(
            self.rs.uniform(f"{prefix}.symptom_control_duration")
        )
        self.set_controlled(duration, prefix)

    def set_controlled(self, duration: float, by: str) -> None:
        if self.uncontrolled_since is not None:
            self.months_uncontrolled += self.env.now - self.uncontrolled_since
            self.uncontrolled_since = None
        if self.first_control_at is None:
            self.first_control_at = self.env.now
        self.symptoms = "controlled"
        self.controlled_since = self.env.now
        self.symptom_relapse_at = self.env.now + duration
        self.model.log.append(self.patient.patient_id, self.env.now, EventType.SYMPTOMS_CONTROLLED, self.state, self.state, by)

    def symptoms_relapse(self) -> None:
        if self.symptoms != "controlled":
            return
        self.symptoms = "uncontrolled"
        if self.controlled_since is not None:
            self.control_months += self.env.now - self.controlled_since
            self.controlled_since = None
        self.uncontrolled_since = self.env.now
        self.symptom_relapse_at = INF
        self.model.log.append(self.patient.patient_id, self.env.now, EventType.SYMPTOMS_RELAPSED, self.state, self.state, "")
        self.model.symptom_rescue(self)

    # ------------------------------------------------------------------ lines of therapy

    def open_line(self, treatment: str) -> None:
        self.line += 1
        self.current = treatment
        self.history.append(treatment)
        self.line_starts.append(self.env.now)

    def close_line(self, progressed: bool) -> None:
        if len(self.line_pfs) < len(self.line_starts):
            self.line_pfs.append((self.env.now - self.line_starts[-1], progressed))

    def progress(
        self, event: EventType = EventType.PROGRESSION, detail: str | None = None, relapse_purpose: str = "symptoms.relapse_at_progression"
    ) -> None:
        """Disease progression (or recurrence after resection) on the current treatment, or while waiting
        for a hospital resource (``detail`` then names the queue and ``relapse_purpose`` keeps the waiting
        draws on their own stream). Every progression goes through here, so each raises the death hazard
        the same way."""
        self.progressions += 1
        model = self.model
        if self.tumour is None:
            # The hazard-ratio model: each progression and a recurrence after resection set the hazard.
            self.progression_factor = model.progression_hazard_ratio ** min(self.progressions, model.progression_hazard_cap)
            # Disease that recurs after a resection stays smaller than disease never resected.
            self.hazard_multiplier = (
                self.model.params.value("hepatectomy.post_recurrence_death_hazard_ratio") if self.resected_at is not None else 1.0
            )
        self.last_progressed_on = self.current
        self.on_telotristat = False
        self.close_line(progressed=True)
        if self.resected_at is not None and self.first_recurrence_at is None:
            self.first_recurrence_at = self.env.now
        self.record(event, "progressed", (self.current or "") if detail is None else detail)
        if self.on_ssa and self.ssa_continued is None and model.ssa_continuation and self.patient.functional:
            # The analogue stays for the syndrome through every later line, with no further effect on growth.
            self.ssa_continued = self.current
            self.record(EventType.TREATMENT_START, detail=continued_detail(self.current or ""))
        self.on_ssa = self.ssa_continued is not None
        if self.symptoms == "controlled" and self.rs.bernoulli(relapse_purpose, self.model.params.value("symptoms.relapse_at_progression")):
            self.symptoms_relapse()
