"""PathwayModel: one SimPy environment, one cohort, one strategy. Discarded after the run."""

from __future__ import annotations

import bisect
import gc
import math
from collections import deque
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from ..core.events import EventLog, EventType
from ..core.rng import RandomStreams
from ..params.parameter_set import ParameterSet, life_table_hazard
from ..pathways import FALLBACK_TREATMENT, MODALITIES, check_declarations
from ..pathways.strategies import Strategy
from .clock import PatientClock
from .cohort import Patient
from .course import Course
from .hooks import CarePolicy
from .tumour import GompertzTumourState, GrowthDistribution, TumourModel, TumourState, median_growth_rate, within_patient_spread

_LIFE_TABLE = None
SCHEDULERS = ("direct", "simpy")


def _cumulative_background_hazard() -> dict[str, tuple[list[float], list[float]]]:
    """Cumulative other-cause hazard at exact ages 0..101 per sex (constant hazard within each year of age)."""
    global _LIFE_TABLE  # a read-only cache of a shipped data file, not run state
    if _LIFE_TABLE is None:
        table = {}
        for sex, hazard in life_table_hazard().items():
            # Plain lists: bisect on a list is far cheaper per patient than a numpy call.
            table[sex] = (np.concatenate([[0.0], np.cumsum(hazard)]).tolist(), hazard.tolist())
        _LIFE_TABLE = table
    return _LIFE_TABLE


class PathwayModel:
    def __init__(
        self,
        params: ParameterSet,
        strategy: Strategy,
        cohort: list[Patient],
        horizon: float,
        streams: RandomStreams,
        replication: int,
        scheduler: str = "direct",
        hospital: CarePolicy | None = None,
    ) -> None:
        if scheduler not in SCHEDULERS:
            raise ValueError(f"scheduler must be one of {SCHEDULERS}, not {scheduler!r}")
        # A treatment whose declarations are incomplete fails here, not by going missing from a list.
        check_declarations([*(step[-1] for step in strategy.plan), MODALITIES[FALLBACK_TREATMENT]])
        self.params = params
        self.strategy = strategy
        self.cohort = cohort
        self.horizon = float(horizon)
        self.streams = streams
        self.scheduler = scheduler
        # With the SimPy scheduler every patient shares this environment; with the direct one each
        # patient runs on its own PatientClock (engine/clock.py) and this one stays at time 0.
        self.env = simpy.Environment()
        self.log = EventLog(replication, strategy.name)
        self.courses: list[Course] = []
        p = params.value
        self.progression_hazard_ratio = p("disease.death_hazard_ratio_per_progression")
        self.progression_hazard_cap = int(p("disease.max_progressions_in_hazard"))
        self.ssa_continuation = bool(p("ssa.continued_in_functional_disease"))
        self._background = _cumulative_background_hazard()
        self._base_rates: dict[tuple, float] = {}
        self._memo: dict[str, object] = {}
        self._progression_ratios: dict[str, float] = {}
        self._burden_ratios: dict[str, float] = {}
        self._median_growth: dict[tuple[str, str], tuple[float, float]] = {}
        self.tumour_model = self._tumour_model() if p("disease.burden_model") == 1.0 else None
        self.tumour_line_spread = within_patient_spread(p) if self.tumour_model is not None else 0.0
        self.tumour_reading_spread = p("tumour.progression_reading_sd_log") if self.tumour_model is not None else 0.0
        self.tumour_gompertz = self.tumour_model is not None and p("tumour.gompertz_growth") == 1.0
        self.burden_free_death_rate = p("tumour.burden_free_death_hazard") if self.tumour_model is not None else 0.0
        self.growth_hazard_exponent = p("tumour.growth_hazard_exponent") if self.tumour_model is not None else 0.0
        # Acquired resistance of the targeted drugs (pathways/systemic.py), read once: 0 = none, as under the hazard-ratio model.
        self.targeted_resistance_rate = p("tumour.targeted_resistance_rate") if self.tumour_model is not None else 0.0
        self.growth_distribution = GrowthDistribution.from_parameters(p) if self.tumour_model is not None else None
        # exp(exponent x deviation) has mean exp((exponent x spread)^2 / 2) over log-normal deviations: divided out.
        spread = self.growth_distribution.spread if self.growth_distribution is not None else 0.0
        self._growth_hazard_offset = -0.5 * (self.growth_hazard_exponent * spread) ** 2
        # A care policy (engine/hooks.py; capacity/hospital.py builds one): patients then share the SimPy
        # environment and wait at its hooks. Without one the patient process never calls a hook.
        self.hospital = hospital
        if hospital is not None:
            hospital.attach(self)

    # ------------------------------------------------------------------ patient-level hazards

    def disease_death_rate(self, patient: Patient) -> float:
        """The patient's disease-death rate at entry, before burden, treatment and progression; the same
        for every patient with the same traits, so computed once per combination."""
        key = (patient.functional, patient.synchronous, patient.extrahepatic, patient.primary_site, patient.grade, patient.resectable)
        rate = self._base_rates.get(key)
        if rate is None:
            rate = self._base_rates[key] = self._disease_death_rate(patient)
        return rate

    def _disease_death_rate(self, patient: Patient) -> float:
        p = self.params.value
        rate = p("disease.death_rate")
        if not patient.functional:
            rate *= p("disease.hr_nonfunctional")
        if patient.synchronous:
            rate *= p("disease.hr_synchronous")
        if patient.extrahepatic:
            rate *= p("disease.hr_extrahepatic")
        if patient.primary_site == "pancreas":
            rate *= p("disease.hr_pancreas")
        if patient.grade != "G1":
            rate *= p(f"disease.hr_grade_{patient.grade.lower()}")
        if not patient.resectable:
            rate *= p("disease.hr_unresectable")
        return rate

    def _tumour_model(self) -> TumourModel:
        p = self.params.value
        return TumourModel(
            log_reference_burden=math.log(p("tumour.reference_burden")),
            reference_hazard=p("tumour.reference_death_hazard"),
            burden_exponent=p("tumour.burden_hazard_exponent"),
            # With its own compartment, the ratio at entry is the burden model's own (liver-directed treatment then
            # raises it); as a plain ratio on the hepatic hazard, the published one.
            extrahepatic_hazard_ratio=p("tumour.extrahepatic_entry_hazard_ratio")
            if p("tumour.extrahepatic_compartment") == 1.0
            else p("disease.hr_extrahepatic"),
            pancreas_hazard_ratio=p("tumour.pancreas_death_hazard_ratio"),
            log_progression_ratio=math.log(p("tumour.progression_volume_ratio")),
            reading_floor=p("tumour.progression_reading_floor"),
            log_detection_burden=math.log(p("tumour.detection_burden")),
            new_lesion_growth=p("tumour.new_lesion_growth"),
            extrahepatic_compartment=p("tumour.extrahepatic_compartment") == 1.0,
            additive_growth_effect=p("tumour.additive_growth_effect") == 1.0,
        )

    def tumour_state(self, patient: Patient, exposure: float = math.inf) -> TumourState | None:
        """The patient's tumour at entry under the burden model, its disease-death clock started with
        ``exposure`` (an Exp(1) draw); None under the hazard-ratio model."""
        tumour_model = self.tumour_model
        if tumour_model is None:
            return None
        median, reference = self._median_growths_of(patient.primary_site, patient.grade)
        distribution = self.growth_distribution
        assert distribution is not None  # built with the tumour model
        deviation = distribution.log_deviation(patient.growth_z)
        growth = median * math.exp(deviation)
        exponent = self.growth_hazard_exponent
        # Indolence as a frailty: a tumour that grows more slowly than its site and grade's median also kills
        # more slowly at the same burden (tumour.growth_hazard_exponent), with the referral population's mean
        # hazard kept (the offset), so the exponent moves no one on average.
        factor = math.exp(exponent * deviation + self._growth_hazard_offset) if exponent != 0.0 else 1.0
        state = GompertzTumourState if self.tumour_gompertz else TumourState
        return state(
            tumour_model,
            math.log(patient.hepatic_load),
            growth,
            patient.extrahepatic,
            patient.primary_site == "pancreas",
            median_growth=reference,
            exposure=exposure,
            hazard_factor=factor,
            entry_line_factor=None if math.isnan(patient.entry_line_growth) else math.exp(patient.entry_line_growth),
        )

    def _median_growths_of(self, primary_site: str, grade: str) -> tuple[float, float]:
        """``median_growth_rate`` of the site and grade, and of the site at grade 1, read once per site and
        grade, not once per patient and strategy. A cytostatic drug's absolute reduction
        (tumour.additive_growth_effect) is the same for every grade: it is read at the site's grade-1
        median, the well-differentiated disease its trials enrolled."""
        key = (primary_site, grade)
        medians = self._median_growth.get(key)
        if medians is None:
            value = self.params.value
            medians = self._median_growth[key] = (
                median_growth_rate(value, primary_site, grade),
                median_growth_rate(value, primary_site, "G1"),
            )
        return medians

    def memo(self, key: str, compute):
        """``compute(params)``, computed once per model: for values derived from several parameters."""
        found = self._memo.get(key)
        if found is None:
            found = self._memo[key] = compute(self.params)
        return found

    def burden_hazard_ratio(self, burden: str) -> float:
        """Hepatic tumour burden enters the death hazard apart, because resection changes it."""
        ratio = self._burden_ratios.get(burden)
        if ratio is None:
            ratio = self._burden_ratios[burden] = 1.0 if burden == "lt25" else self.params.value(f"disease.hr_burden_{burden}")
        return ratio

    def progression_hazard_ratio_for(self, patient: Patient) -> float:
        """Tumour grade's effect on progression, read once per grade (it is needed at every line)."""
        ratio = self._progression_ratios.get(patient.grade)
        if ratio is None:
            ratio = 1.0
            if patient.grade != "G1":
                ratio *= self.params.value(f"disease.progression_hr_grade_{patient.grade.lower()}")
            self._progression_ratios[patient.grade] = ratio
        return ratio

    @staticmethod
    def natural_history_parameter(patient: Patient) -> str:
        """Pancreatic NETs follow their own natural history (placebo arms of RADIANT-3 and Raymond 2011)."""
        if patient.primary_site == "pancreas":
            return "natural_history.time_to_progression_pancreas"
        return "natural_history.time_to_progression"

    def background_death_time(self, patient: Patient, u: float) -> float:
        """Months from entry to other-cause death, by inversion of the life-table cumulative hazard."""
        cumulative, hazard = self._background[patient.sex]
        age = patient.age
        last = len(hazard) - 1  # beyond the table's last age its hazard continues
        whole = min(int(age), last)
        start = cumulative[whole] + hazard[whole] * (age - whole)
        target = start - math.log(u) if u > 0 else math.inf
        if target >= cumulative[last]:
            death_age = last + (target - cumulative[last]) / hazard[last]
        else:
            index = bisect.bisect_right(cumulative, target) - 1
            death_age = index + (target - cumulative[index]) / hazard[index]
        return max(death_age - age, 0.0) * 12.0

    def symptom_rescue(self, course: Course) -> None:
        """Telotristat for carcinoid-syndrome diarrhoea that relapses on a somatostatin analogue."""
        if not (self.strategy.telotristat and course.on_ssa and not course.telotristat_used and course.patient.syndrome == "carcinoid"):
            return
        course.telotristat_used = course.on_telotristat = True
        self.log.append(course.patient.patient_id, course.env.now, EventType.TREATMENT_START, course.state, course.state, "telotristat")
        course.try_symptom_control("telotristat")

    # ------------------------------------------------------------------ processes

    def patient_process(self, course: Course) -> Generator[Any, Any, None]:
        # The one patient loop of every run. The care policy's hooks are behind one None test per
        # decision: the direct scheduler does no extra work per event.
        care = self.hospital
        if care is not None:
            yield from care.arrive(course)
        strategy = self.strategy
        horizon = self.horizon
        course.record(EventType.ENTRY, "untreated")
        while not course.ended:
            if care is not None and not (yield from care.before_decision(course)):
                break
            modality, rule_index = strategy.choose(course)
            course.rule_uses[rule_index] = course.rule_uses.get(rule_index, 0) + 1
            course.record(EventType.DECISION, detail=modality.name)
            if care is not None and not (yield from care.admit(course, modality)):
                if course.ended:
                    break
                course.rule_uses[rule_index] -= 1  # not given: the rule keeps its use
                continue
            yield from modality.deliver(course)
            if care is not None:
                care.after_treatment(course)
            if not course.ended and course.env.now >= horizon:
                course.censor()

    def close(self) -> None:
        """Drop the courses once their tables are built. Each course points back at the model, a cycle
        only the cyclic collector would free, and it runs too rarely: a long run's memory kept growing."""
        self.courses = []
        self.log.records = []

    def run(self) -> PathwayModel:
        # The run allocates many small long-lived objects (courses, generators, events); the cyclic
        # garbage collector would rescan them again and again for nothing (measured: 1.6x slower).
        # Reference counting still frees everything; the collector resumes when the run ends.
        collecting = gc.isenabled()
        gc.disable()
        try:
            care = self.hospital
            if care is not None or self.scheduler == "simpy":
                for index, patient in enumerate(self.cohort):
                    course = care.new_course(self, patient, index) if care is not None else Course(self, patient, self.env)
                    self.courses.append(course)
                    self.env.process(self.patient_process(course))
                self.env.run()
            else:
                for patient in self.cohort:
                    course = Course(self, patient, PatientClock())
                    self.courses.append(course)
                    # Exhaust the generator: every yield is a timeout already applied to its clock.
                    deque(self.patient_process(course), maxlen=0)
        finally:
            if collecting:
                gc.enable()
        return self
