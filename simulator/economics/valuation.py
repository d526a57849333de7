"""Costs, life-years and QALYs of every simulated patient, valued from the event log.

Runs after the simulation, vectorised over the whole log (numpy/pandas); nothing here changes a
patient's course. Each patient's log is cut into intervals between consecutive events; within an
interval the state, the progression status, the symptom status and telotristat use are constant.

Rules (README "Health economics"):

* Utility: ``utility.no_evidence_of_disease`` while in ``no_evidence_of_disease``; otherwise
  ``utility.progressed`` once the patient has had a progression or recurrence, else
  ``utility.progression_free``. Decrements apply while hormonal symptoms are uncontrolled
  (``utility.uncontrolled_symptoms_decrement``; functional patients start uncontrolled,
  ``symptoms_controlled`` and ``symptoms_relapsed`` toggle it), for a number of days after each
  procedure (recovery) and after each adverse event, the last two cut at death or censoring.
  Decrements combine multiplicatively, as advocated for joint health states (Ara & Brazier, Med
  Decis Making 2012, doi:10.1177/0272989X12455461; NICE DSU TSD 12, Ara & Wailoo 2011): each
  decrement d, published against progression-free health, is the multiplier
  1 - d / ``utility.progression_free`` (at least 0), and the utility of a moment is the state's
  utility times the multipliers of every decrement in force. One decrement in progression-free
  health is thus exactly the state's utility minus d; several never take the utility below 0,
  which adding them did (a complicated resection in a patient with uncontrolled symptoms).
* Health-state costs (flows per month): follow-up while progression-free (and without evidence of
  disease) or after progression, plus the extra cost of uncontrolled symptoms.
* Drugs: a line in state ``on_<drug>`` pays ``cost.<drug>_per_28_days`` at the start of every
  28-day cycle it begins (somatostatin analogues add ``cost.ssa_administration_per_injection``);
  PRRT pays its drug per administration at its ``procedure`` events instead. Telotristat (added
  at a symptom relapse) is paid per 28-day cycle from its start until the next progression or
  recurrence, death or censoring, whichever comes first.
* Procedures: ``cost.<kind>_procedure`` per session; hepatectomy and transplant are costed bottom
  up: that fixed part + theatre minutes x ``cost.theatre_per_minute`` + recorded stay x
  ``cost.inpatient_bed_day``.
* Adverse events ``<treatment>:<type>`` or ``<type>``: ``cost.ae_<type>`` once, and
  ``utility.ae_decrement_<type>`` for ``utility.ae_days_<type>`` days.
* Death: ``cost.end_of_life`` once.

Discounting is continuous: a flow c per year over [a, b] years is worth c (e^-rho a - e^-rho b) / rho
with rho = ln(1 + r); a one-off cost at t years is worth c e^-rho t.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.events import EventType, continued_detail, parse_adverse_event_detail, parse_procedure_detail
from ..errors import ScenarioError
from ..params.parameter_set import ParameterSet
from ..pathways import MODALITIES, procedure_kinds
from ..pathways.base import DAYS_PER_MONTH
from .discounting import (
    MONTHS_PER_YEAR,
    cycles_started,
    discount_factor,
    discounted_cycles,
    discounted_years,
)
from .discounting import (
    continuous_rate as continuous_rate,  # re-exported: callers read the discounting helpers from here
)
from .population import age_weighted_years, general_population_qalys, months_to_lifetime_age
from .prices import LIBRARY_CURRENCY, cost_value, is_cost, latest_price_year
from .settings import EconomicSettings

CYCLE_DAYS = 28.0  # drug packs and injections are priced per 28 days (the unit of cost.*_per_28_days)
VALUATION_ONLY_PREFIXES = ("cost.", "utility.", "economics.")

KEYS = ["replication", "strategy", "patient_id"]
# Where costs arise (discounted, per patient): their sum is ``costs``.
COST_CATEGORIES = ("drugs", "procedures", "hospital_stay", "adverse_events", "follow_up", "end_of_life")
CATEGORY_COLUMNS = tuple(f"cost_{category}" for category in COST_CATEGORIES)
# The general population's expected QALYs (discounted as the model's) for a person of the patient's
# age and sex over the same horizon: the reference of the QALY shortfall (severity).
GENERAL_POPULATION = "qalys_general_population"
VALUE_COLUMNS = (
    "costs",
    "qalys",
    "life_years",
    "costs_undiscounted",
    "qalys_undiscounted",
    "life_years_undiscounted",
    *CATEGORY_COLUMNS,
    GENERAL_POPULATION,
)
PROGRESSION_EVENTS = (EventType.PROGRESSION.value, EventType.RECURRENCE.value)
TELOTRISTAT = "telotristat"
ANALOGUES = tuple(name for name, modality in MODALITIES.items() if modality.is_ssa)
NO_EVIDENCE_OF_DISEASE = "no_evidence_of_disease"
LIBRARY_FILE = "economics.yaml"


def is_valuation_only(name: str) -> bool:
    """True for parameters that only the valuation reads (a change needs no new simulation)."""
    return name.startswith(VALUATION_ONLY_PREFIXES)


# ------------------------------------------------------------------------------ inputs


def _missing(name: str, what: str) -> ScenarioError:
    return ScenarioError(LIBRARY_FILE, name, f"an entry for {what} (the event log has one the parameter library does not value)")


@dataclass(frozen=True)
class ValuationInputs:
    """Every number the valuation uses, read once from the parameter set."""

    drug_per_cycle: dict[str, float]  # treatment state (on_<drug>) -> cost per 28-day cycle
    telotristat_per_cycle: float
    procedure_fixed: dict[str, float]
    procedure_drug: dict[str, float]
    recovery_decrement: dict[str, float]
    recovery_months: dict[str, float]
    theatre_per_minute: float
    bed_day: float
    ae_cost: dict[str, float]
    ae_decrement: dict[str, float]
    ae_months: dict[str, float]
    follow_up_progression_free: float  # per month
    follow_up_progressed: float
    uncontrolled_symptoms: float
    end_of_life: float
    utility_progression_free: float
    utility_progressed: float
    utility_no_evidence_of_disease: float
    symptoms_decrement: float
    reference_age: float  # mean age of the population the state utilities were measured in
    # Procedures costed bottom up from the recorded theatre minutes and length of stay; the fixed
    # cost of every other procedure is a per-session cost that includes its usual stay.
    bottom_up: frozenset[str] = frozenset()

    def multiplier(self, decrement):
        """The utility multiplier of a decrement published against progression-free health (module docstring)."""
        return np.clip(1.0 - np.asarray(decrement, dtype=float) / self.utility_progression_free, 0.0, 1.0)

    @classmethod
    def from_parameters(cls, params: ParameterSet, settings: EconomicSettings | None = None) -> ValuationInputs:
        """Every number, costs in the settings' currency and price year (economics/prices.py). In a
        currency other than the library's, a cost the scenario's table leaves out is left out here
        too (NaN): ``check_scenario_costs`` has made sure that no treatment of the scenario needs it."""
        price_year = settings.price_year if settings is not None else latest_price_year()
        own = settings.cost_table if settings is not None else {}
        foreign = settings is not None and settings.currency != LIBRARY_CURRENCY

        def value(name: str | None, what: str) -> float:
            if name is None or name not in params:  # None: a treatment that declares no such cost item
                raise _missing(name or what, what)
            if is_cost(params, name):
                if foreign and name not in own:
                    return math.nan
                return cost_value(params, name, price_year, own)
            return params.value(name)

        administration = value("cost.ssa_administration_per_injection", "somatostatin-analogue injections")
        # Every list below comes from the treatments' declared cost items (pathways/base.py CostItems).
        drugs = {}
        for name, modality in MODALITIES.items():
            if modality.costs.per_cycle is not None:
                price = value(modality.costs.per_cycle, f"drug {name}") + (administration if modality.is_ssa else 0.0)
                if not math.isnan(price):
                    drugs[modality.state] = price
        costs = {kind: MODALITIES[kind].costs for kind in procedure_kinds()}
        ae_types = sorted(n.removeprefix("cost.ae_") for n in params.names() if n.startswith("cost.ae_"))
        return cls(
            drug_per_cycle=drugs,
            telotristat_per_cycle=value("cost.telotristat_per_28_days", "telotristat"),
            procedure_fixed={k: value(c.per_session, f"procedure {k}") for k, c in costs.items()},
            procedure_drug={
                k: value(c.per_administration, f"the drug of procedure {k}") for k, c in costs.items() if c.per_administration is not None
            },
            recovery_decrement={k: value(c.recovery_decrement, f"recovery after {k}") for k, c in costs.items()},
            recovery_months={k: value(c.recovery_days, f"recovery after {k}") / DAYS_PER_MONTH for k, c in costs.items()},
            theatre_per_minute=value("cost.theatre_per_minute", "theatre time"),
            bed_day=value("cost.inpatient_bed_day", "hospital stays"),
            ae_cost={t: value(f"cost.ae_{t}", f"adverse event {t}") for t in ae_types},
            ae_decrement={t: value(f"utility.ae_decrement_{t}", f"adverse event {t}") for t in ae_types},
            ae_months={t: value(f"utility.ae_days_{t}", f"adverse event {t}") / DAYS_PER_MONTH for t in ae_types},
            follow_up_progression_free=value("cost.follow_up_progression_free_per_month", "follow-up"),
            follow_up_progressed=value("cost.follow_up_progressed_per_month", "follow-up after progression"),
            uncontrolled_symptoms=value("cost.uncontrolled_symptoms_per_month", "uncontrolled symptoms"),
            end_of_life=value("cost.end_of_life", "death"),
            utility_progression_free=value("utility.progression_free", "progression-free time"),
            utility_progressed=value("utility.progressed", "time after progression"),
            utility_no_evidence_of_disease=value("utility.no_evidence_of_disease", "time without evidence of disease"),
            symptoms_decrement=value("utility.uncontrolled_symptoms_decrement", "uncontrolled symptoms"),
            reference_age=value("utility.reference_age", "the age the utilities were measured at"),
            bottom_up=frozenset(k for k, c in costs.items() if c.bottom_up),
        )


def _rows_with(codes: np.ndarray, names, wanted) -> np.ndarray:
    """Rows whose factorized value (``names[codes]``) is one of ``wanted``."""
    hits = np.isin(np.asarray(names, dtype=object), list(wanted))
    return hits[codes] if len(hits) else np.zeros(len(codes), dtype=bool)


def _lookup(table: dict[str, float], keys: np.ndarray, prefix: str, what: str) -> np.ndarray:
    unknown = sorted(set(keys) - set(table))
    if unknown:
        raise _missing(f"{prefix}{unknown[0]}", f"{what} {unknown[0]}")
    return np.array([table[key] for key in keys], dtype=float)


def _procedure_columns(details) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(kind, theatre minutes, stay days) of each procedure detail text (core.events grammar). A field a
    procedure does not record counts 0: its fixed cost covers it (only hepatectomy records minutes)."""
    parsed = [parse_procedure_detail(text) for text in details]
    kind = np.array([p.kind for p in parsed], dtype=object)
    minutes = np.array([p.minutes or 0.0 for p in parsed], dtype=float)
    stay = np.array([p.los_days or 0.0 for p in parsed], dtype=float)
    return kind, minutes, stay


def _patient_rows(keys: pd.DataFrame, patients: pd.DataFrame) -> np.ndarray:
    """The row of ``patients`` of each (replication, strategy, patient_id) of ``keys`` (a lookup on the
    three keys: pandas' merge on them cost more than the rest of a small valuation)."""
    index = pd.MultiIndex.from_frame(patients[KEYS])
    if not index.is_unique:
        raise ValueError("the patients table has two rows for one (replication, strategy, patient_id)")
    rows = index.get_indexer(pd.MultiIndex.from_frame(keys[KEYS]))
    if (rows < 0).any():
        raise ValueError("every patient of the event log needs a row in the patients table")
    return rows


# ------------------------------------------------------------------------------ valuation


def value_patients(
    events: pd.DataFrame, patients: pd.DataFrame, params: ParameterSet | ValuationInputs, settings: EconomicSettings
) -> pd.DataFrame:
    """One row per (replication, strategy, patient_id): discounted and undiscounted costs, QALYs and
    life-years, discounted costs by category, and the general population's QALYs (severity).

    Each patient is valued up to age 100 (the lifetime horizon; the patients table's ``age``): a row
    after it is cut to it and its one-off costs and decrements are left out. With
    ``settings.age_adjusted_utilities`` the state utilities are age-adjusted (economics/population.py)."""
    inputs = params if isinstance(params, ValuationInputs) else ValuationInputs.from_parameters(params, settings)
    rc, re = settings.discount_rate_costs, settings.discount_rate_effects

    ev = events[KEYS + ["time", "event", "to_state", "detail"]]
    # Order rows by (replication, strategy name, patient, time), ties kept in log order: np.lexsort on
    # numeric keys, which is stable (what a stable pandas sort of the same keys gives, at a fraction of its cost).
    strategy_codes, strategy_names = pd.factorize(ev["strategy"].astype(str), sort=True)
    order = np.lexsort((ev["time"].to_numpy(), ev["patient_id"].to_numpy(), strategy_codes, ev["replication"].to_numpy()))
    ev = ev.take(order).reset_index(drop=True)
    strat = strategy_codes[order]
    n = len(ev)
    rep = ev["replication"].to_numpy()
    pid = ev["patient_id"].to_numpy()
    start = np.ones(n, dtype=bool)
    start[1:] = (rep[1:] != rep[:-1]) | (strat[1:] != strat[:-1]) | (pid[1:] != pid[:-1])
    last = np.ones(n, dtype=bool)
    last[:-1] = start[1:]
    patient = np.cumsum(start) - 1
    n_patients = int(patient[-1]) + 1 if n else 0

    keys = ev.loc[start, KEYS].reset_index(drop=True)
    has_age = {"age", "sex"} <= set(patients.columns)
    if settings.age_adjusted_utilities and not has_age:
        raise ValueError("age-adjusted utilities need the patients' age and sex (the patients table's age and sex)")
    row_of_patient = _patient_rows(keys, patients)
    traits = patients[["functional", *(["age", "sex"] if has_age else [])]].take(row_of_patient).reset_index(drop=True)

    t_logged = ev["time"].to_numpy(dtype=float)
    if has_age:
        entry_age = traits["age"].to_numpy(dtype=float)
        sex = traits["sex"].astype(str).to_numpy(dtype=object)
        lifetime_end = months_to_lifetime_age(entry_age)[patient]
        beyond = t_logged > lifetime_end  # after age 100: outside the horizon
        t = np.minimum(t_logged, lifetime_end)
    else:
        beyond = np.zeros(n, dtype=bool)
        t = t_logged
    t_next = np.empty(n)
    t_next[:-1] = t[1:]
    t_next[last] = t[last]
    end_of_follow_up = t[last][patient]
    # Compare small integer codes, not strings: each distinct text is looked at once.
    if isinstance(ev["event"].dtype, pd.CategoricalDtype):
        event_codes, event_names = ev["event"].cat.codes.to_numpy(), ev["event"].cat.categories.astype(str)
    else:
        event_codes, event_names = pd.factorize(ev["event"])
    state_codes, state_names = pd.factorize(ev["to_state"])

    def event_is(*names: str) -> np.ndarray:
        return _rows_with(event_codes, event_names, names)

    # Progressions so far (after this row's event).
    is_progression = event_is(*PROGRESSION_EVENTS)
    running = np.cumsum(is_progression)
    progressions = running - (running[start] - is_progression[start])[patient]

    # Hormonal symptoms: functional patients start uncontrolled.
    uncontrolled = np.full(n, np.nan)
    uncontrolled[start] = traits["functional"].astype(float).to_numpy()
    uncontrolled[event_is(EventType.SYMPTOMS_CONTROLLED.value)] = 0.0
    uncontrolled[event_is(EventType.SYMPTOMS_RELAPSED.value)] = 1.0
    uncontrolled = pd.Series(uncontrolled).ffill().to_numpy()

    # Telotristat: from its start to the next progression or recurrence (or the end of follow-up).
    telotristat = np.full(n, np.nan)
    telotristat[start] = 0.0
    telotristat[is_progression] = 0.0
    starts = np.flatnonzero(event_is(EventType.TREATMENT_START.value))
    start_details = ev["detail"].to_numpy()[starts]
    telotristat[starts[start_details == TELOTRISTAT]] = 1.0
    telotristat = pd.Series(telotristat).ffill().to_numpy()

    # An analogue continued for a hormonal syndrome: from its continuation to the end of follow-up, except
    # while a line of an analogue runs (priced as that line's state). Labels index ANALOGUES (-1: none).
    continued = np.full(n, np.nan)
    continued[start] = -1.0
    for code, name in enumerate(ANALOGUES):
        continued[starts[start_details == continued_detail(name)]] = code
    continued = pd.Series(continued).ffill().to_numpy()
    in_analogue_line = _rows_with(state_codes, state_names, tuple(MODALITIES[name].state for name in ANALOGUES))
    continued_label = np.where(in_analogue_line, -1, continued).astype(np.int64)

    # ---- flows over [t, t_next)
    ned = _rows_with(state_codes, state_names, (NO_EVIDENCE_OF_DISEASE,))
    progressed = (progressions > 0) & ~ned
    state_utility = np.where(
        ned, inputs.utility_no_evidence_of_disease, np.where(progressed, inputs.utility_progressed, inputs.utility_progression_free)
    )
    state_utility = state_utility * np.where(uncontrolled == 1.0, inputs.multiplier(inputs.symptoms_decrement), 1.0)
    monthly_cost = (
        np.where(progressed, inputs.follow_up_progressed, inputs.follow_up_progression_free) + uncontrolled * inputs.uncontrolled_symptoms
    )
    years_disc = discounted_years(t, t_next, re)
    years = (t_next - t) / MONTHS_PER_YEAR
    years_disc_costs = discounted_years(t, t_next, rc)

    def quality_weighted(rows: np.ndarray, begin: np.ndarray, until: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Undiscounted and discounted years of [begin, until) months of the patients of ``rows``,
        weighted by the age adjustment of utilities when it applies."""
        if settings.age_adjusted_utilities:
            who = patient[rows]
            return age_weighted_years(entry_age[who], sex[who], begin, until, re, inputs.reference_age)
        return (until - begin) / MONTHS_PER_YEAR, discounted_years(begin, until, re)

    every_row = np.arange(n)
    if settings.age_adjusted_utilities:
        weighted_years, weighted_years_disc = quality_weighted(every_row, t, t_next)
    else:
        weighted_years, weighted_years_disc = years, years_disc

    life_years = np.bincount(patient, years, n_patients)
    life_years_disc = np.bincount(patient, years_disc, n_patients)
    costs = np.bincount(patient, monthly_cost * years * MONTHS_PER_YEAR, n_patients)
    costs_disc = np.bincount(patient, monthly_cost * years_disc_costs * MONTHS_PER_YEAR, n_patients)
    category = {name: np.zeros(n_patients) for name in COST_CATEGORIES}
    category["follow_up"] += costs_disc

    # ---- drug cycles: runs of one on_<drug> state, and runs of telotristat use
    cycle_months = CYCLE_DAYS / DAYS_PER_MONTH
    # Labels are integer codes (-1: no drug): the price per cycle of code k is price_of[k].
    state_price = np.array([inputs.drug_per_cycle.get(name, np.nan) for name in state_names], dtype=float)
    on_drug = ~np.isnan(state_price)
    drug_label = np.where(on_drug[state_codes], state_codes, -1) if n else np.zeros(0, dtype=np.int64)
    telo_label = np.where(telotristat == 1.0, 0, -1)
    analogue_price = np.array([inputs.drug_per_cycle.get(MODALITIES[name].state, np.nan) for name in ANALOGUES], dtype=float)
    for label, price_of in (
        (drug_label, state_price),
        (telo_label, np.array([inputs.telotristat_per_cycle])),
        (continued_label, analogue_price),
    ):
        run_start = start.copy()
        run_start[1:] |= label[1:] != label[:-1]
        first = np.flatnonzero(run_start)
        final = np.append(first[1:] - 1, n - 1)
        keep = label[first] != -1
        first, final = first[keep], final[keep]
        if not len(first):
            continue
        price = price_of[label[first]]
        count = cycles_started(t[first], t_next[final], cycle_months)
        costs += np.bincount(patient[first], price * count, n_patients)
        drug_disc = np.bincount(patient[first], price * discounted_cycles(t[first], count, cycle_months, rc), n_patients)
        costs_disc += drug_disc
        category["drugs"] += drug_disc

    # ---- one-off costs and QALY losses (none after age 100)
    def one_off(rows: np.ndarray, amount: np.ndarray, where: str) -> None:
        nonlocal costs, costs_disc
        keep = ~beyond[rows]
        rows, amount = rows[keep], amount[keep]
        costs += np.bincount(patient[rows], amount, n_patients)
        amount_disc = np.bincount(patient[rows], amount * discount_factor(t[rows], rc), n_patients)
        costs_disc += amount_disc
        category[where] += amount_disc

    # Decrement windows (row that opens them, multiplier, length in months), valued with the states below.
    windows: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def utility_loss(rows: np.ndarray, decrement: np.ndarray, months: np.ndarray) -> None:
        keep = ~beyond[rows]
        windows.append((rows[keep], inputs.multiplier(decrement[keep]), months[keep]))

    detail = ev["detail"].fillna("")
    rows = np.flatnonzero(event_is(EventType.PROCEDURE.value))
    if len(rows):
        # Parse each distinct detail text once (a log holds few distinct ones).
        codes, distinct = pd.factorize(detail.iloc[rows])
        kinds, minutes_of, stay_of = _procedure_columns(distinct)
        kind, minutes, stay = kinds[codes], minutes_of[codes], stay_of[codes]
        fixed = _lookup(inputs.procedure_fixed, kind, "cost.", "procedure")
        bottom_up = np.isin(kind, list(inputs.bottom_up))
        # np.where, not a product: a unit cost a scenario in another currency leaves out is NaN.
        one_off(rows, fixed + np.where(bottom_up, minutes * inputs.theatre_per_minute, 0.0), "procedures")
        one_off(rows, np.where(bottom_up, stay * inputs.bed_day, 0.0), "hospital_stay")
        one_off(rows, pd.Series(kind).map(inputs.procedure_drug).fillna(0.0).to_numpy(dtype=float), "drugs")
        utility_loss(
            rows,
            _lookup(inputs.recovery_decrement, kind, "utility.recovery_decrement_", "recovery after"),
            _lookup(inputs.recovery_months, kind, "utility.recovery_days_", "recovery after"),
        )

    rows = np.flatnonzero(event_is(EventType.ADVERSE_EVENT.value))
    if len(rows):
        codes, distinct = pd.factorize(detail.iloc[rows])
        kind = np.array([parse_adverse_event_detail(text).type for text in distinct], dtype=object)[codes]
        one_off(rows, _lookup(inputs.ae_cost, kind, "cost.ae_", "adverse event"), "adverse_events")
        utility_loss(
            rows,
            _lookup(inputs.ae_decrement, kind, "utility.ae_decrement_", "adverse event"),
            _lookup(inputs.ae_months, kind, "utility.ae_days_", "adverse event"),
        )

    rows = np.flatnonzero(event_is(EventType.DEATH.value))
    if len(rows):
        one_off(rows, np.full(len(rows), inputs.end_of_life), "end_of_life")

    qalys = np.bincount(patient, state_utility * weighted_years, n_patients)
    qalys_disc = np.bincount(patient, state_utility * weighted_years_disc, n_patients)
    decrement, decrement_disc = _decrement_qalys(patient, t, state_utility, end_of_follow_up, windows, n_patients, quality_weighted)
    qalys += decrement
    qalys_disc += decrement_disc

    if np.isnan(costs).any():  # a cost left out of another currency's table reached the log
        raise ValueError("a cost the scenario's cost table leaves out was needed (economics/prices.py costs_used is incomplete)")
    values = {
        "costs": costs_disc,
        "qalys": qalys_disc,
        "life_years": life_years_disc,
        "costs_undiscounted": costs,
        "qalys_undiscounted": qalys,
        "life_years_undiscounted": life_years,
        **{f"cost_{name}": category[name] for name in COST_CATEGORIES},
        GENERAL_POPULATION: general_population_qalys(entry_age, sex, settings.horizon_months, re)
        if has_age
        else np.full(n_patients, np.nan),
    }
    return pd.concat([keys, pd.DataFrame(values)], axis=1)


def _decrement_qalys(patient, t, state_utility, end_of_follow_up, windows, n_patients: int, weigh) -> tuple[np.ndarray, np.ndarray]:
    """Undiscounted and discounted QALYs that the decrement windows take from the state utility.

    A window's edges cut the pieces between the log's rows; in each piece after an edge, and after
    each row that falls inside a window, the utility is the state's times the multipliers in force
    (M), so the piece changes the QALYs by state utility x (M - 1) x its length. Everything else is
    valued from the rows alone. The rows are in (patient, time) order: each edge is slotted in
    after the last row of its patient at or before it, and only the edges are sorted. Multipliers
    in force are summed as logarithms over each patient's own edges (a grouped running sum), so no
    patient's figures depend on the patients valued with it and chunked and whole-log valuations
    agree; a multiplier of 0 is counted apart, as its logarithm is -inf. ``weigh(rows, begin, until)``
    gives each piece's undiscounted and discounted (age-weighted) years.
    """
    n = len(t)
    rows = np.concatenate([w[0] for w in windows]) if windows else np.zeros(0, dtype=np.int64)
    if not len(rows):
        return np.zeros(n_patients), np.zeros(n_patients)
    factor = np.concatenate([w[1] for w in windows])
    months = np.concatenate([w[2] for w in windows])
    opens = t[rows]
    closes = np.minimum(opens + months, end_of_follow_up[rows])

    # The last row of the same patient at or before each closing: walk forward from the opening row.
    close_row = rows.copy()
    walking = np.arange(len(rows))
    while walking.size:
        ahead = np.minimum(close_row[walking] + 1, n - 1)
        moves = (close_row[walking] + 1 < n) & (patient[ahead] == patient[rows[walking]]) & (t[ahead] <= closes[walking])
        close_row[walking[moves]] = ahead[moves]
        walking = walking[moves]

    # Edges in slot order: in each slot the openings (at the slot's row time), then the closings
    # by time (all at or after it). Two stable sorts, the larger on whole numbers.
    zero = (factor <= 0.0).astype(np.int64)
    log_factor = np.where(zero == 1, 0.0, np.log(np.where(zero == 1, 1.0, factor)))
    edge_time = np.concatenate([opens, closes])
    slot = np.concatenate([rows, close_row])
    order = np.concatenate([np.arange(len(rows)), len(rows) + np.argsort(closes, kind="stable")])
    order = order[np.argsort(slot[order], kind="stable")]
    slot, edge_time = slot[order], edge_time[order]
    edge_patient = patient[slot]
    log_in_force = pd.Series(np.concatenate([log_factor, -log_factor])[order]).groupby(edge_patient, sort=False).cumsum().to_numpy()
    # Whole numbers, and each patient's windows all close: a plain running sum is exact across patients.
    zeros_in_force = np.cumsum(np.concatenate([zero, -zero])[order])
    edge_multiplier = np.where(zeros_in_force > 0, 0.0, np.exp(log_in_force))

    # Each edge's piece runs to the next edge in its slot, else to the next row of its patient.
    next_row = np.minimum(slot + 1, n - 1)
    edge_until = np.where((slot + 1 < n) & (patient[next_row] == edge_patient), t[next_row], edge_time)
    same_slot_next = slot[1:] == slot[:-1]
    edge_until[:-1] = np.where(same_slot_next, edge_time[1:], edge_until[:-1])

    # Rows inside a window (after its opening row, up to its closing row) take the multipliers left
    # in force by the last edge before them; their piece runs to the first edge of their own slot or
    # to the next row.
    change = np.bincount(rows + 1, minlength=n + 1) - np.bincount(close_row + 1, minlength=n + 1)
    inside = np.flatnonzero(np.cumsum(change)[:n] > 0)
    first_edge = np.searchsorted(slot, inside, side="left")
    row_multiplier = edge_multiplier[first_edge - 1]
    has_edge = (first_edge < len(slot)) & (slot[np.minimum(first_edge, len(slot) - 1)] == inside)
    after = np.minimum(inside + 1, n - 1)
    row_until = np.where((inside + 1 < n) & (patient[after] == patient[inside]), t[after], t[inside])
    row_until = np.where(has_edge, edge_time[np.minimum(first_edge, len(slot) - 1)], row_until)

    where = np.concatenate([edge_patient, patient[inside]])
    begin = np.concatenate([edge_time, t[inside]])
    until = np.concatenate([edge_until, row_until])
    change_in_utility = np.concatenate([state_utility[slot] * (edge_multiplier - 1.0), state_utility[inside] * (row_multiplier - 1.0)])
    years, years_disc = weigh(np.concatenate([slot, inside]), begin, until)
    qalys = np.bincount(where, change_in_utility * years, n_patients)
    qalys_disc = np.bincount(where, change_in_utility * years_disc, n_patients)
    return qalys, qalys_disc


# ------------------------------------------------------------------------------ summaries


def replication_means(per_patient: pd.DataFrame, strategies: list[str]) -> pd.DataFrame:
    """Mean per patient of every value column, per (replication, strategy), strategies in the given order."""
    means = per_patient.groupby(["replication", "strategy"], sort=True)[list(VALUE_COLUMNS)].mean().reset_index()
    means["strategy"] = pd.Categorical(means["strategy"], categories=strategies, ordered=True)
    return means.sort_values(["replication", "strategy"], ignore_index=True).assign(strategy=lambda f: f["strategy"].astype(str))


# Columns of economics.csv with a confidence interval across replications; the cost categories and
# the general population's QALYs are given as means.
INTERVAL_COLUMNS = VALUE_COLUMNS[:6]
OVERALL = "all"  # the subgroup and subgroup_value of the rows of the whole cohort


def economics_table(
    per_patient: pd.DataFrame, strategies: list[str], patients: pd.DataFrame | None = None, subgroups: tuple[str, ...] | list[str] = ()
) -> pd.DataFrame:
    """Per strategy: patients, and the mean per patient of costs, QALYs and life-years (discounted
    and undiscounted) with a t-based 95% confidence interval across replications, costs by category,
    the QALY shortfall and NICE severity weight; then the same per value of each of ``subgroups``
    (traits of ``patients`` at entry), whose means are pooled over the subgroup's patients, so that
    their patient-weighted mean is the overall row's (every replication has as many patients)."""
    table = economics_table_from_means(replication_means(per_patient, strategies), per_patient.groupby("strategy").size(), strategies)
    if not subgroups:
        return table
    if patients is None:
        raise ValueError("subgroups need the patients table (the traits at entry)")
    traits = per_patient.merge(patients[KEYS + list(subgroups)], on=KEYS, how="left", validate="one_to_one")
    parts = [table]
    for trait in subgroups:
        for level in sorted(traits[trait].astype(str).unique()):
            group = traits[traits[trait].astype(str) == level]
            means = replication_means(group, strategies)
            pooled = group.groupby("strategy")[list(VALUE_COLUMNS)].mean()
            part = economics_table_from_means(means, group.groupby("strategy").size(), strategies, pooled, (trait, level))
            parts.append(part)
    return pd.concat(parts, ignore_index=True)


def economics_table_from_means(
    means: pd.DataFrame,
    counts: pd.Series,
    strategies: list[str],
    pooled: pd.DataFrame | None = None,
    subgroup: tuple[str, str] = (OVERALL, OVERALL),
) -> pd.DataFrame:
    """``economics_table`` from the per-(replication, strategy) means and the patients per strategy
    (summary-mode runs keep only these, never a row per patient); ``pooled``: per strategy, means
    over all the patients, which replace the mean of the replications' means (subgroups)."""
    from ..outcomes.replications import bounded_t_interval
    from .severity import shortfall

    rows = []
    for name in strategies:
        group = means[means["strategy"] == name]
        row: dict[str, object] = {
            "subgroup": subgroup[0],
            "subgroup_value": subgroup[1],
            "strategy": name,
            "patients": int(counts.get(name, 0)),
            "replications": len(group),
        }
        for column in VALUE_COLUMNS:
            values = group[column].tolist()
            if column in INTERVAL_COLUMNS:
                # Costs, QALYs and life-years are never negative: their intervals stay above 0.
                mean, lower, upper = bounded_t_interval(values, (0.0, math.inf))
            else:
                mean = float(np.mean(values)) if values else math.nan
            if pooled is not None:
                mean = float(pooled.at[name, column]) if name in pooled.index else math.nan
            row[column] = mean
            if column in INTERVAL_COLUMNS:
                row[f"{column}_lower_95"] = lower
                row[f"{column}_upper_95"] = upper
        absolute, proportional, weight = shortfall(float(row[GENERAL_POPULATION]), float(row["qalys"]))  # type: ignore[arg-type]
        row["qaly_shortfall_absolute"] = absolute
        row["qaly_shortfall_proportional"] = proportional
        row["severity_weight"] = weight
        rows.append(row)
    return pd.DataFrame(rows)
