"""Valuation of the event log: discounting against closed forms, and each valuation rule on
hand-built logs whose value is known exactly."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from simulator.api import run_scenario
from simulator.commands.output import read_csv
from simulator.config import EconomicsConfig, Scenario
from simulator.core.events import parse_adverse_event_detail, parse_procedure_detail
from simulator.economics.settings import EconomicSettings
from simulator.economics.valuation import (
    CYCLE_DAYS,
    ValuationInputs,
    continuous_rate,
    discounted_cycles,
    discounted_years,
    economics_table,
    value_patients,
)
from simulator.errors import ScenarioError
from simulator.params.parameter_set import build_parameter_set
from simulator.pathways.base import DAYS_PER_MONTH

from .conftest import tiny_scenario

Z = 4.0  # tolerance of statistical checks, in standard errors (two-sided p ~ 6e-5)
CYCLE = CYCLE_DAYS / DAYS_PER_MONTH


def settings(rate: float) -> EconomicSettings:
    """The valuation rules on hand-built logs without ages: no age adjustment (tested on its own in
    tests/test_economics_reference_case.py)."""
    return EconomicSettings.from_config(EconomicsConfig(discount_rate_costs=rate, discount_rate_effects=rate, age_adjusted_utilities=False))


def build_log(patients: list[list[tuple]], functional: list[bool] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Event log and patients table from [(time, event, to_state, detail), ...] per patient."""
    rows = []
    for pid, events in enumerate(patients):
        state = "entry"
        for time, event, to_state, detail in events:
            rows.append((0, "s", pid, float(time), event, state, to_state, detail))
            state = to_state
    log = pd.DataFrame(rows, columns=["replication", "strategy", "patient_id", "time", "event", "from_state", "to_state", "detail"])
    flags = functional or [False] * len(patients)
    table = pd.DataFrame({"replication": 0, "strategy": "s", "patient_id": range(len(patients)), "functional": flags})
    return log, table


def surveillance_until(end: float, terminal: str = "death") -> list[tuple]:
    last = ("death", "dead", "disease") if terminal == "death" else ("censored", "censored", "")
    return [(0, "entry", "untreated", ""), (0, "treatment_start", "surveillance", "surveillance"), (end, *last)]


ZERO_COSTS = {
    "cost.end_of_life": 0,
    "cost.follow_up_progression_free_per_month": 0,
    "cost.follow_up_progressed_per_month": 0,
    "cost.uncontrolled_symptoms_per_month": 0,
}


def params(**overrides):
    return build_parameter_set({**ZERO_COSTS, **{k.replace("__", "."): v for k, v in overrides.items()}})


# ------------------------------------------------------------------------------ closed forms


def test_constant_cost_over_exponential_survival_tends_to_c_over_h_plus_rho():
    """E[integral_0^min(T,H) c e^-rho t dt] = c (1 - e^-(h+rho)H) / (h + rho) -> c / (h + rho)."""
    rng = np.random.default_rng(20240501)
    n, hazard, rate, monthly = 20_000, 0.25, 0.035, 100.0  # hazard per year
    c_year, rho = 12 * monthly, continuous_rate(rate)
    death_months = rng.exponential(12.0 / hazard, n)
    p = params(cost__follow_up_progression_free_per_month=monthly)
    limits = []
    for horizon_years in (5.0, 20.0, 80.0):
        horizon = 12 * horizon_years
        log, table = build_log([surveillance_until(min(t, horizon), "death" if t <= horizon else "censored") for t in death_months])
        costs = value_patients(log, table, p, settings(rate))["costs"]
        expected = c_year * -math.expm1(-(hazard + rho) * horizon_years) / (hazard + rho)
        tolerance = Z * costs.std(ddof=1) / math.sqrt(n)
        assert abs(costs.mean() - expected) < tolerance, (horizon_years, costs.mean(), expected, tolerance)
        limits.append(expected)
    # The horizon-limited expectation rises to c / (h + rho) as the horizon grows.
    assert limits[0] < limits[1] < limits[2] <= c_year / (hazard + rho)
    assert c_year / (hazard + rho) - limits[2] < 1e-3 * c_year / (hazard + rho)


def test_one_off_cost_at_t_is_c_exp_minus_rho_t_exactly():
    rate, eol = 0.035, 4321.0
    times = [0.0, 6.0, 30.0, 123.4]
    log, table = build_log([surveillance_until(t) for t in times])
    out = value_patients(log, table, params(cost__end_of_life=eol), settings(rate))
    expected = eol * np.exp(-continuous_rate(rate) * np.array(times) / 12)
    np.testing.assert_allclose(out["costs"], expected, rtol=1e-12)
    np.testing.assert_allclose(out["costs_undiscounted"], eol, rtol=1e-12)


def test_discounted_life_years_of_one_patient_exactly():
    rate, months = 0.05, 90.0
    log, table = build_log([surveillance_until(months)])
    out = value_patients(log, table, params(), settings(rate))
    rho = continuous_rate(rate)
    assert out["life_years"].iloc[0] == pytest.approx(-math.expm1(-rho * months / 12) / rho, rel=1e-12)
    assert out["life_years_undiscounted"].iloc[0] == pytest.approx(months / 12, rel=1e-12)
    utility = params().value("utility.progression_free")
    assert out["qalys"].iloc[0] == pytest.approx(utility * out["life_years"].iloc[0], rel=1e-12)


def test_zero_rate_discounting_is_plain_arithmetic():
    assert discounted_years([0.0, 12.0], [24.0, 18.0], 0.0).tolist() == [2.0, 0.5]
    assert discounted_cycles([5.0], [3], 1.0, 0.0).tolist() == [3.0]


def test_discounted_cycles_equal_the_explicit_sum():
    start, count, cycle, rate = 7.3, 11, CYCLE, 0.035
    explicit = sum(math.exp(-continuous_rate(rate) * (start + k * cycle) / 12) for k in range(count))
    assert discounted_cycles([start], [count], cycle, rate)[0] == pytest.approx(explicit, rel=1e-12)


# ------------------------------------------------------------------------------ valuation rules


def test_drug_paid_per_28_day_cycle_started_in_its_state():
    price, rate = 1000.0, 0.035
    on_drug = 3.5 * CYCLE  # 4 cycles begin: at 0, 1, 2 and 3 cycles
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "on_everolimus", "everolimus"),
        (1.0, "adverse_event", "on_everolimus", "everolimus:stomatitis"),  # within the state: same run
        (on_drug, "progression", "progressed", "everolimus"),
        (on_drug, "treatment_start", "best_supportive_care", "best_supportive_care"),
        (on_drug + 20, "death", "dead", "disease"),
    ]
    log, table = build_log([events])
    p = params(cost__everolimus_per_28_days=price, cost__ae_stomatitis=0)
    out = value_patients(log, table, p, settings(rate))
    assert out["costs_undiscounted"].iloc[0] == pytest.approx(4 * price)
    expected = price * sum(math.exp(-continuous_rate(rate) * k * CYCLE / 12) for k in range(4))
    assert out["costs"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_ssa_adds_the_injection_and_prrt_is_paid_per_administration():
    ssa = [(0, "entry", "untreated", ""), (0, "treatment_start", "on_lanreotide", "lanreotide"), (2 * CYCLE, "death", "dead", "disease")]
    prrt = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "on_prrt", "prrt"),
        (0, "procedure", "on_prrt", "prrt;cycle=1"),
        (1.84, "procedure", "on_prrt", "prrt;cycle=2"),
        (10, "death", "dead", "disease"),
    ]
    log, table = build_log([ssa, prrt])
    p = params(
        cost__lanreotide_per_28_days=900,
        cost__ssa_administration_per_injection=50,
        cost__prrt_drug_per_administration=10_000,
        cost__prrt_procedure=1_000,
    )
    out = value_patients(log, table, p, settings(0.0))
    assert out["costs"].tolist() == pytest.approx([2 * 950, 2 * 11_000])


def test_utility_progression_free_then_progressed_and_symptom_decrement():
    a, b, control_at = 10.0, 6.0, 4.0
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "on_octreotide_lar", "octreotide_lar"),
        (control_at, "symptoms_controlled", "on_octreotide_lar", "octreotide_lar"),
        (a, "progression", "progressed", "octreotide_lar"),
        (a, "treatment_start", "best_supportive_care", "best_supportive_care"),
        (a + b, "death", "dead", "disease"),
    ]
    log, table = build_log([events, events], functional=[False, True])
    p = params(cost__octreotide_lar_per_28_days=0, cost__ssa_administration_per_injection=0)
    out = value_patients(log, table, p, settings(0.0))
    inputs = ValuationInputs.from_parameters(p)
    plain = (inputs.utility_progression_free * a + inputs.utility_progressed * b) / 12
    assert out["qalys"].iloc[0] == pytest.approx(plain, rel=1e-12)
    assert out["qalys"].iloc[1] == pytest.approx(plain - inputs.symptoms_decrement * control_at / 12, rel=1e-12)


def test_uncontrolled_symptoms_cost_and_telotristat_until_next_progression():
    relapse, progression, death = 2.0, 2.0 + 2.5 * CYCLE, 40.0
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "on_octreotide_lar", "octreotide_lar"),
        (0, "symptoms_controlled", "on_octreotide_lar", "octreotide_lar"),
        (relapse, "symptoms_relapsed", "on_octreotide_lar", ""),
        (relapse, "treatment_start", "on_octreotide_lar", "telotristat"),
        (progression, "progression", "progressed", "octreotide_lar"),
        (progression, "treatment_start", "best_supportive_care", "best_supportive_care"),
        (death, "death", "dead", "disease"),
    ]
    log, table = build_log([events], functional=[True])
    p = params(
        cost__octreotide_lar_per_28_days=0,
        cost__ssa_administration_per_injection=0,
        cost__telotristat_per_28_days=1000,
        cost__uncontrolled_symptoms_per_month=10,
    )
    out = value_patients(log, table, p, settings(0.0))
    telotristat = 3 * 1000  # cycles begin at 0, 1 and 2 cycles after the start; none after progression
    uncontrolled = 10 * (death - relapse)  # relapsed at 2 and never controlled again
    assert out["costs"].iloc[0] == pytest.approx(telotristat + uncontrolled, rel=1e-12)


def test_hepatectomy_bottom_up_cost_and_recovery_cut_at_death():
    died_after_days = 10.0
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "surgery", "hepatectomy"),
        (0, "procedure", "surgery", "hepatectomy;extent=major;ablation=0;minutes=418;los_days=7"),
        (died_after_days / DAYS_PER_MONTH, "death", "dead", "treatment"),
    ]
    log, table = build_log([events])
    p = params()
    inputs = ValuationInputs.from_parameters(p)
    out = value_patients(log, table, p, settings(0.0))
    assert out["costs"].iloc[0] == pytest.approx(
        inputs.procedure_fixed["hepatectomy"] + 418 * inputs.theatre_per_minute + 7 * inputs.bed_day
    )
    life_years = died_after_days / DAYS_PER_MONTH / 12
    loss = inputs.recovery_decrement["hepatectomy"] * life_years  # 42 recovery days cut at death on day 10
    assert out["qalys"].iloc[0] == pytest.approx(inputs.utility_progression_free * life_years - loss, rel=1e-12)


def test_adverse_event_cost_and_decrement():
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "liver_directed", "tace"),
        (1.0, "adverse_event", "liver_directed", "tace:post_embolisation_syndrome"),
        (30.0, "death", "dead", "disease"),
    ]
    log, table = build_log([events])
    p = params(cost__tace_procedure=0)
    inputs = ValuationInputs.from_parameters(p)
    out = value_patients(log, table, p, settings(0.0))
    assert out["costs"].iloc[0] == pytest.approx(inputs.ae_cost["post_embolisation_syndrome"])
    loss = inputs.ae_decrement["post_embolisation_syndrome"] * inputs.ae_months["post_embolisation_syndrome"] / 12
    assert out["qalys"].iloc[0] == pytest.approx(inputs.utility_progression_free * 30 / 12 - loss, rel=1e-12)


def test_decrements_in_force_together_multiply():
    """Uncontrolled symptoms, recovery after a hepatectomy and an adverse event overlapping: each
    decrement d is the multiplier 1 - d / u_pf, and the multipliers in force multiply."""
    ae_at, death = 5 / DAYS_PER_MONTH, 120 / DAYS_PER_MONTH
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "surgery", "hepatectomy"),
        (0, "procedure", "surgery", "hepatectomy;extent=major;ablation=0;minutes=0;los_days=0"),
        (ae_at, "adverse_event", "surgery", "hepatectomy:major_morbidity"),
        (death, "death", "dead", "disease"),
    ]
    log, table = build_log([events], functional=[True])
    p = params(cost__hepatectomy_procedure=0)
    inputs = ValuationInputs.from_parameters(p)
    out = value_patients(log, table, p, settings(0.0))
    u = inputs.utility_progression_free
    m_symptoms, m_recovery, m_ae = (
        1 - d / u for d in (inputs.symptoms_decrement, inputs.recovery_decrement["hepatectomy"], inputs.ae_decrement["major_morbidity"])
    )
    recovery_end, ae_end = inputs.recovery_months["hepatectomy"], ae_at + inputs.ae_months["major_morbidity"]
    assert ae_at < recovery_end < death and ae_end < death
    pieces = [  # (from, to, multipliers in force) in months, for this ordering of the windows
        (0, ae_at, m_symptoms * m_recovery),
        (ae_at, min(recovery_end, ae_end), m_symptoms * m_recovery * m_ae),
        (min(recovery_end, ae_end), max(recovery_end, ae_end), m_symptoms * (m_ae if ae_end > recovery_end else m_recovery)),
        (max(recovery_end, ae_end), death, m_symptoms),
    ]
    expected = sum(u * m * (b - a) for a, b, m in pieces) / 12
    assert out["qalys"].iloc[0] == pytest.approx(expected, rel=1e-12)
    additive = (
        u * death
        - inputs.symptoms_decrement * death
        - inputs.recovery_decrement["hepatectomy"] * recovery_end
        - inputs.ae_decrement["major_morbidity"] * (ae_end - ae_at)
    ) / 12
    assert out["qalys"].iloc[0] > additive  # stacking no longer subtracts the full decrements


def test_a_decrement_scales_with_the_state_it_falls_in():
    """A decrement published against progression-free health takes the same share of a progressed patient's utility."""
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "surveillance", "surveillance"),
        (2.0, "progression", "progressed", "natural_history"),
        (2.0, "treatment_start", "liver_directed", "tace"),
        (3.0, "adverse_event", "liver_directed", "tace:post_embolisation_syndrome"),
        (30.0, "death", "dead", "disease"),
    ]
    log, table = build_log([events])
    p = params(cost__tace_procedure=0)
    inputs = ValuationInputs.from_parameters(p)
    out = value_patients(log, table, p, settings(0.0))
    share = inputs.ae_decrement["post_embolisation_syndrome"] / inputs.utility_progression_free
    loss = inputs.utility_progressed * share * inputs.ae_months["post_embolisation_syndrome"]
    expected = (inputs.utility_progression_free * 2.0 + inputs.utility_progressed * 28.0 - loss) / 12
    assert out["qalys"].iloc[0] == pytest.approx(expected, rel=1e-12)


def test_decrements_at_least_as_large_as_the_reference_utility_bring_it_to_zero_not_below():
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "liver_directed", "tace"),
        (0.0, "adverse_event", "liver_directed", "tace:post_embolisation_syndrome"),
        (0.0, "adverse_event", "liver_directed", "tace:post_embolisation_syndrome"),
        (1.0, "death", "dead", "disease"),
    ]
    log, table = build_log([events])
    p = params(cost__tace_procedure=0, utility__ae_decrement_post_embolisation_syndrome=0.9, utility__ae_days_post_embolisation_syndrome=10)
    inputs = ValuationInputs.from_parameters(p)
    out = value_patients(log, table, p, settings(0.0))
    window = 10 / DAYS_PER_MONTH
    assert out["qalys"].iloc[0] == pytest.approx(inputs.utility_progression_free * (1.0 - window) / 12, rel=1e-12)


def _qalys_by_brute_force(events, functional, inputs, rate):
    """One patient's QALYs from first principles: cut time at every event and window edge, and in
    each piece multiply the state's utility by the multipliers of every decrement in force."""
    windows, state, progressed, uncontrolled = [], [], False, functional
    end = events[-1][0]
    for time, event, to_state, detail in events:
        if event == "procedure":
            kind = parse_procedure_detail(detail).kind
            windows.append((time, min(time + inputs.recovery_months[kind], end), inputs.recovery_decrement[kind]))
        if event == "adverse_event":
            kind = parse_adverse_event_detail(detail).type
            windows.append((time, min(time + inputs.ae_months[kind], end), inputs.ae_decrement[kind]))
        progressed = progressed or event in ("progression", "recurrence")
        uncontrolled = {"symptoms_controlled": False, "symptoms_relapsed": True}.get(event, uncontrolled)
        base = (
            inputs.utility_no_evidence_of_disease
            if to_state == "no_evidence_of_disease"
            else inputs.utility_progressed
            if progressed
            else inputs.utility_progression_free
        )
        state.append((time, base * (max(0.0, 1 - inputs.symptoms_decrement / inputs.utility_progression_free) if uncontrolled else 1.0)))
    cuts = sorted({time for time, _ in state} | {a for a, _, _ in windows} | {b for _, b, _ in windows})
    total = 0.0
    for a, b in zip(cuts, cuts[1:]):
        level = [u for time, u in state if time <= a][-1]
        for open_, close, d in windows:
            if open_ <= a and b <= close:
                level *= max(0.0, 1 - d / inputs.utility_progression_free)
        total += level * float(discounted_years(a, b, rate))
    return total


def test_multiplicative_decrements_match_a_brute_force_valuation_on_random_logs():
    rng = np.random.default_rng(20261130)
    p = params(utility__ae_decrement_grade3_4=0.8)  # at least one decrement above the reference utility: a multiplier of 0
    inputs = ValuationInputs.from_parameters(p)
    procedures = [
        "hepatectomy;extent=major;ablation=0;minutes=300;los_days=6",
        "tace",
        "ablation",
        "prrt",
        "transplant;minutes=400;los_days=20",
    ]
    adverse = [
        "tace:post_embolisation_syndrome",
        "everolimus:stomatitis",
        "hepatectomy:major_morbidity",
        "sunitinib:grade3_4",
        "capecitabine_temozolomide:grade3_haematological",
    ]
    logs, flags = [], []
    for _ in range(60):
        events, time, state = [(0.0, "entry", "untreated", ""), (0.0, "treatment_start", "surgery", "hepatectomy")], 0.0, "surgery"
        for _ in range(rng.integers(0, 12)):
            time += float(rng.choice([0.0, rng.exponential(1.5)]))  # ties at the same time are common in real logs
            draw = rng.random()
            if draw < 0.3:
                events.append((time, "procedure", state, str(rng.choice(procedures))))
            elif draw < 0.6:
                events.append((time, "adverse_event", state, str(rng.choice(adverse))))
            elif draw < 0.7:
                state = "no_evidence_of_disease"
                events.append((time, "treatment_end", state, ""))
            elif draw < 0.8:
                state = "progressed"
                events.append((time, "progression", state, "natural_history"))
            else:
                events.append((time, str(rng.choice(["symptoms_controlled", "symptoms_relapsed"])), state, ""))
        events.append((time + float(rng.exponential(2.0)) * float(rng.integers(0, 2)), "death", "dead", "disease"))
        logs.append(events)
        flags.append(bool(rng.integers(0, 2)))
    log, table = build_log(logs, functional=flags)
    for rate in (0.0, 0.035):
        out = value_patients(log, table, p, settings(rate))
        expected = [_qalys_by_brute_force(events, flag, inputs, rate) for events, flag in zip(logs, flags)]
        assert out["qalys"].to_numpy() == pytest.approx(expected, rel=1e-9, abs=1e-12)
        # Valued one patient at a time, each patient's figures are bit for bit those of the whole log.
        single = [
            value_patients(log[log["patient_id"] == i], table[table["patient_id"] == i], p, settings(rate))["qalys"].iloc[0]
            for i in (0, 7, 31)
        ]
        assert single == [out["qalys"].iloc[i] for i in (0, 7, 31)]


def test_an_event_the_library_cannot_value_is_a_one_line_error():
    events = [
        (0, "entry", "untreated", ""),
        (0, "treatment_start", "liver_directed", "tace"),
        (1.0, "adverse_event", "liver_directed", "tace:unheard_of"),
        (3.0, "death", "dead", "disease"),
    ]
    log, table = build_log([events])
    with pytest.raises(ScenarioError, match="cost.ae_unheard_of"):
        value_patients(log, table, params(), settings(0.035))


# ------------------------------------------------------------------------------ on simulated patients


@pytest.fixture(scope="module")
def simulated():
    scenario = Scenario.model_validate(
        tiny_scenario(replications=2, cohort={"size": 150}, strategies=["surgery-first", "systemic-first", "best-supportive-care"])
    )
    return run_scenario(scenario)


def test_valuation_of_a_simulated_run_is_consistent_with_the_patients_table(simulated):
    result, prepared = simulated.result, simulated.prepared
    out = value_patients(result.events, result.patients, prepared.params, EconomicSettings.from_scenario(prepared.scenario))
    merged = out.merge(result.patients, on=["replication", "strategy", "patient_id"], validate="one_to_one")
    assert len(merged) == len(result.patients)
    np.testing.assert_allclose(merged["life_years_undiscounted"], merged["os_months"] / 12, rtol=1e-12, atol=1e-12)
    assert (out["life_years"] <= out["life_years_undiscounted"] + 1e-12).all()
    assert (out["costs"] <= out["costs_undiscounted"] + 1e-9).all() and (out["costs"] > 0).all()
    assert (out["qalys"] < out["life_years"]).all()
    assert out[["costs", "qalys", "life_years"]].notna().all().all()
    # Best supportive care buys no anticancer treatment: it is the least costly strategy.
    means = out.groupby("strategy")["costs"].mean()
    assert means.idxmin() == "best-supportive-care"


def test_economics_table_has_a_replication_interval_per_strategy(simulated):
    result, prepared = simulated.result, simulated.prepared
    out = value_patients(result.events, result.patients, prepared.params, EconomicSettings.from_scenario(prepared.scenario))
    names = [s.name for s in prepared.strategies]
    table = economics_table(out, names)
    assert table["strategy"].tolist() == names and (table["replications"] == 2).all()
    for column in ("costs", "qalys", "life_years", "costs_undiscounted", "qalys_undiscounted", "life_years_undiscounted"):
        assert (table[f"{column}_lower_95"] <= table[column]).all() and (table[column] <= table[f"{column}_upper_95"]).all()
    per_replication = out.groupby(["strategy", "replication"])["costs"].mean().groupby("strategy").mean()
    np.testing.assert_allclose(table.set_index("strategy").loc[names, "costs"], per_replication.loc[names], rtol=1e-12)


def test_run_folder_has_economics_and_icer_tables(write_scenario, tmp_path):
    from simulator.cli import main

    path = write_scenario(tiny_scenario(replications=2, cohort={"size": 40}))
    out = tmp_path / "run"
    assert main(["run", str(path), "--out", str(out)]) == 0
    economics = read_csv(out / "economics.csv")
    assert economics["strategy"].tolist() == ["surgery-first", "systemic-first"]
    assert {"costs", "costs_lower_95", "qalys_upper_95", "life_years_undiscounted"} <= set(economics.columns)
    icer = read_csv(out / "icer.csv")
    assert set(icer["status"]) <= {"frontier", "dominated", "extendedly_dominated"}
    assert {"icer", "inmb_20000", "inmb_30000"} <= set(icer.columns)
    assert (icer.loc[icer["strategy"] == icer["comparator"], "inmb_20000"] == 0).all()
