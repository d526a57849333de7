"""Clinical rules of each modality, checked on simulated patients and their event logs."""

from __future__ import annotations

import re

import numpy as np
import pytest

from simulator.api import run_scenario
from simulator.config import Scenario
from simulator.params import parameter_set as parameter_set_module
from simulator.params.parameter_set import build_parameter_set, load_library
from simulator.pathways import MODALITIES

from .conftest import ROOT, tiny_scenario

ALL_TREATMENTS_RULES = [
    {"treatment": "transplant", "when": {"line": 1}, "max_uses": 1},
    {"treatment": "hepatectomy"},
    {"treatment": "ablation", "max_uses": 1},
    {"treatment": "tae", "max_uses": 1},
    {"treatment": "tace", "max_uses": 1},
    {"treatment": "y90", "max_uses": 1},
    {"treatment": "octreotide_lar", "max_uses": 1},
    {"treatment": "lanreotide", "max_uses": 1},
    {"treatment": "sunitinib", "max_uses": 1},
    {"treatment": "everolimus", "max_uses": 1},
    {"treatment": "prrt", "max_uses": 1},
    {"treatment": "captem", "max_uses": 1},
    {"treatment": "temozolomide", "max_uses": 1},
    {"treatment": "placebo", "max_uses": 1},
    {"treatment": "surveillance", "max_uses": 1},
]


# An open population with every resource constrained (used by the provenance test below and the capacity tests).
EVERY_RESOURCE = {
    "arrivals": {"catchment_population": 1_000_000, "years": 3, "warmup_years": 0.5},
    "resources": {
        "mdt": {"capacity": 1, "schedule": [{"day": "wed", "start": 13, "hours": 3}]},
        "theatre": {"capacity": 1, "schedule": [{"day": "tue", "start": 8, "hours": 10}]},
        "ir_suite": {"capacity": 1, "schedule": [{"day": "mon", "start": 8, "hours": 8}, {"day": "thu", "start": 8, "hours": 8}]},
        "beds": {"capacity": 3},
        "day_unit": {"capacity": 1, "schedule": [{"day": "fri", "start": 9, "hours": 8}]},
        "nuclear_medicine": {"capacity": 1, "schedule": [{"day": "wed", "start": 8, "hours": 9}]},
    },
}


def run(strategies, size=600, seed=3, horizon=240, **scenario):
    data = tiny_scenario(
        seed=seed, cohort={"size": size, **scenario.pop("cohort", {})}, horizon_months=horizon, strategies=strategies, **scenario
    )
    return run_scenario(Scenario.model_validate(data)).result


@pytest.fixture(scope="module")
def everything():
    strategies = [
        {"name": "everything", "telotristat": True, "rules": ALL_TREATMENTS_RULES},
        "surgery-first",
        "iat-first",
        "systemic-first",
        "watch-and-wait",
        "guideline",
        "best-supportive-care",
    ]
    return run(strategies, size=800)


def starts(events, treatment):
    return events[(events["event"] == "treatment_start") & (events["detail"] == treatment)]


def test_every_modality_is_exercised(everything):
    started = set(everything.events.loc[everything.events["event"] == "treatment_start", "detail"])
    assert set(MODALITIES) | {"telotristat"} <= started


def test_sunitinib_only_for_pancreatic_primaries(everything):
    patients = everything.patients.set_index(["strategy", "patient_id"])
    given = starts(everything.events, "sunitinib")
    sites = patients.loc[list(zip(given["strategy"], given["patient_id"])), "primary_site"]
    assert len(given) > 20 and set(sites) == {"pancreas"}


def test_prrt_only_receptor_positive_and_at_most_four_cycles_eight_weeks_apart(everything):
    events = everything.events
    patients = everything.patients.set_index(["strategy", "patient_id"])
    given = starts(events, "prrt")
    assert len(given) > 20
    assert patients.loc[list(zip(given["strategy"], given["patient_id"])), "ssr_positive"].all()
    cycles = events[(events["event"] == "procedure") & events["detail"].str.startswith("prrt")]
    per_patient = cycles.groupby(["strategy", "patient_id"])["time"]
    assert per_patient.size().max() == 4
    gaps = per_patient.diff().dropna()
    np.testing.assert_allclose(gaps, 8 * 7 / (365.25 / 12), rtol=1e-9)


def test_somatostatin_analogues_not_for_g3(everything):
    patients = everything.patients.set_index(["strategy", "patient_id"])
    for drug in ("octreotide_lar", "lanreotide"):
        given = starts(everything.events, drug)
        assert len(given) > 20
        assert "G3" not in set(patients.loc[list(zip(given["strategy"], given["patient_id"])), "grade"])


def test_ablation_alone_only_for_low_burden(everything):
    patients = everything.patients.set_index(["strategy", "patient_id"])
    given = starts(everything.events, "ablation")
    assert len(given) > 20 and set(patients.loc[list(zip(given["strategy"], given["patient_id"])), "burden"]) == {"lt25"}


def test_first_hepatectomy_only_when_resectable(everything):
    patients = everything.patients
    first = patients[patients["first_treatment"] == "hepatectomy"]
    assert len(first) > 50 and first["resectable"].all()
    never = patients[~patients["resectable"]]
    assert (never["n_hepatectomy"] == 0).all(), "unresectable disease must not become resectable"


def test_iat_sessions_within_configured_maximum(everything):
    events = everything.events
    limit = int(build_parameter_set().value("iat.max_sessions"))
    for kind in ("tae", "tace", "y90"):
        sessions = events[(events["event"] == "procedure") & events["detail"].str.startswith(kind + ";")]
        numbers = sessions["detail"].str.extract(r"session=(\d+)")[0].astype(int)
        assert numbers.max() <= limit and numbers.max() >= 2
        assert numbers.min() == 1


def test_transplant_only_for_selected_patients(everything):
    patients = everything.patients
    transplanted = patients[patients["n_transplant"] > 0]
    assert len(transplanted) > 0
    assert not transplanted["extrahepatic"].any()
    assert set(transplanted["grade"]) <= {"G1", "G2"}
    assert (transplanted["age"] <= build_parameter_set().value("transplant.max_age")).all()
    assert (patients.loc[patients["strategy"] != "everything", "n_transplant"] == 0).all(), "transplant is off by default"


def test_no_event_after_death_and_one_terminal_event(everything):
    events = everything.events
    terminal = events[events["event"].isin(["death", "censored"])]
    assert (terminal.groupby(["strategy", "patient_id"]).size() == 1).all()
    last_time = events.groupby(["strategy", "patient_id"])["time"].max()
    terminal_time = terminal.set_index(["strategy", "patient_id"])["time"]
    assert (last_time.loc[terminal_time.index] == terminal_time).all()
    after_terminal = events.merge(
        terminal[["strategy", "patient_id", "time"]].rename(columns={"time": "end"}), on=["strategy", "patient_id"]
    )
    assert (after_terminal["time"] <= after_terminal["end"]).all()
    # the terminal event is the last record of each patient
    last_event = events.groupby(["strategy", "patient_id"])["event"].last()
    assert set(last_event.astype(str)) <= {"death", "censored"}


def test_treatment_deaths_fall_within_thirty_days_of_a_procedure(everything):
    events = everything.events
    deaths = events[(events["event"] == "death") & (events["detail"] == "treatment")]
    assert len(deaths) > 0
    procedures = events[events["event"] == "procedure"]
    window = 30 / (365.25 / 12)
    for _, death in deaths.iterrows():
        before = procedures[
            (procedures["strategy"] == death["strategy"])
            & (procedures["patient_id"] == death["patient_id"])
            & (procedures["time"] <= death["time"])
        ]
        assert death["time"] - before["time"].max() <= window + 1e-9


def test_telotristat_only_for_carcinoid_syndrome(everything):
    events = everything.events
    patients = everything.patients.set_index(["strategy", "patient_id"])
    given = starts(events, "telotristat")
    assert len(given) > 0
    assert set(patients.loc[list(zip(given["strategy"], given["patient_id"])), "syndrome"]) == {"carcinoid"}
    assert given["strategy"].ne("best-supportive-care").all()


def test_symptom_outcomes_only_for_functional_patients(everything):
    patients = everything.patients
    assert patients.loc[~patients["functional"], "months_uncontrolled"].isna().all()
    functional = patients[patients["functional"]]
    assert (functional["months_uncontrolled"] <= functional["os_months"] + 1e-9).all()
    assert (functional["months_uncontrolled"] + functional["symptom_control_months"] <= functional["os_months"] + 1e-6).all()


def test_crossover_rule_placebo_to_active_drug():
    result = run(
        [
            {
                "name": "trial-placebo",
                "rules": [
                    {"treatment": "placebo", "when": {"line": 1}},
                    {"treatment": "everolimus", "when": {"progressed_on": ["placebo"]}},
                ],
            }
        ],
        size=300,
        cohort={"mix": {"primary_pancreas": 1.0, "primary_small_bowel": 0.0}},
    )
    sequences = result.patients["treatment_sequence"]
    assert sequences.str.startswith("placebo").all()
    crossed = sequences[sequences.str.contains(">")]
    assert len(crossed) > 100 and crossed.str.startswith("placebo>everolimus").all()


def test_guideline_sequences_by_primary_site_and_gives_prrt_once():
    """Issue 16 item 8: after the somatostatin analogue, small-intestinal primaries go to PRRT before
    the targeted drugs (NETTER-1's population), pancreatic ones to sunitinib and everolimus first;
    no patient has PRRT twice."""
    mix = {"resectable_lt25": 0.0, "resectable_25to50": 0.0, "resectable_gt50": 0.0, "extrahepatic": 1.0, "grade_g3": 0.0}
    result = run(["guideline"], size=600, horizon=600, cohort={"mix": {**mix, "primary_small_bowel": 0.5, "primary_pancreas": 0.5}})
    patients = result.patients
    lines = patients["treatment_sequence"].str.split(">")
    assert (lines.apply(lambda sequence: sequence.count("prrt")) <= 1).all()

    def before(sequence, first, second):
        return first in sequence and (second not in sequence or sequence.index(first) < sequence.index(second))

    small_bowel = lines[(patients["primary_site"] == "small_bowel") & patients["ssr_positive"]]
    reached = small_bowel[small_bowel.apply(lambda sequence: "prrt" in sequence or "everolimus" in sequence)]
    assert len(reached) > 100 and reached.apply(before, args=("prrt", "everolimus")).all()
    pancreas = lines[patients["primary_site"] == "pancreas"]
    reached = pancreas[pancreas.apply(lambda sequence: "prrt" in sequence or "everolimus" in sequence)]
    assert len(reached) > 50 and reached.apply(before, args=("everolimus", "prrt")).all()


def test_rule_share_applies_to_that_share_of_patients_the_same_ones_in_every_strategy():
    """A rule with `share` (e.g. a trial's reported crossover share) applies to about that share of
    the patients who reach it; each patient's draw is per treatment, so arms select the same patients."""
    rules = lambda first: [  # noqa: E731
        {"treatment": first, "when": {"line": 1}},
        {"treatment": "everolimus", "when": {"line": 2}, "share": 0.3},
    ]
    result = run(
        [{"name": "a", "rules": rules("placebo")}, {"name": "b", "rules": rules("surveillance")}],
        size=2000,
        horizon=600,
        cohort={"mix": {"primary_pancreas": 1.0, "primary_small_bowel": 0.0}},
    )
    patients = result.patients
    reached = patients[patients["treatment_sequence"].str.contains(">")]
    crossed = reached["treatment_sequence"].str.split(">").str[1] == "everolimus"
    assert len(reached) > 1000
    assert abs(crossed.mean() - 0.3) < 0.04
    by_arm = {
        arm: set(frame.loc[frame["treatment_sequence"].str.contains(">everolimus"), "patient_id"])
        for arm, frame in reached.groupby("strategy")
    }
    both = set(reached.loc[reached["strategy"] == "a", "patient_id"]) & set(reached.loc[reached["strategy"] == "b", "patient_id"])
    assert {p for p in by_arm["a"] if p in both} == {p for p in by_arm["b"] if p in both}


def test_bundled_strategies_run_and_report_os_pfs_and_symptoms(everything):
    from simulator.outcomes.summary import summary_table

    names = ["surgery-first", "iat-first", "systemic-first", "watch-and-wait", "guideline", "best-supportive-care"]
    summary = summary_table(everything.patients, names, 240)
    for column in ("median_os_months", "os_5y", "median_pfs1_months", "mean_months_uncontrolled", "share_ever_controlled"):
        assert summary[column].notna().all(), column
    # Any active strategy beats no treatment at 5 years in this cohort.
    five = summary.set_index("strategy")["os_5y"]
    assert (five.drop("best-supportive-care") > five["best-supportive-care"]).all()


# ------------------------------------------------------------------------------------------------
# Provenance: every parameter the code reads has an entry; every entry is read.


def test_parameters_read_by_the_model_all_have_entries_and_none_is_dead(monkeypatch, everything):
    accessed: set[str] = set()

    def read(lookup, name):  # every value() and dist() of parameter sets built from here on
        accessed.add(name)
        return dict.__getitem__(lookup, name)

    monkeypatch.setattr(parameter_set_module._Lookup, "__getitem__", read)
    strategies = [
        {"name": "everything", "telotristat": True, "rules": ALL_TREATMENTS_RULES},
        {"name": "lanreotide-first", "rules": [{"treatment": "lanreotide"}]},
        "best-supportive-care",
    ]
    runs = [run(strategies, size=800, cohort={"age": 50}), run(strategies, size=400)]
    # A capacity run reads the arrivals.* and resource-time entries (README "Capacity planning").
    runs.append(run(strategies, size=50, capacity=EVERY_RESOURCE))
    # The burden model (engine/tumour.py) reads its own entries, the conditions on disease before entry included.
    burden = {"disease.burden_model": 1, "cohort.progressed_within_months": 24, "cohort.stable_for_months": 3}
    runs.append(run(strategies, size=400, parameters=burden))
    runs.append(run(strategies, size=50, capacity=EVERY_RESOURCE, parameters={"disease.burden_model": 1}))
    # ... and, with drugs as growth ratios (tumour.additive_growth_effect 0), the cytostatic drugs' ratios.
    ratios = {"tumour.gompertz_growth": 1, "cohort.hepatic_load_median": 0.05, "tumour.additive_growth_effect": 0}
    runs.append(run(strategies, size=200, parameters={**burden, **ratios}))
    # Entries read by the economic valuation of the event log (and the EVPI population) count as read.
    from simulator.config import EconomicsConfig
    from simulator.economics.settings import EconomicSettings
    from simulator.economics.valuation import value_patients

    settings = EconomicSettings.from_config(EconomicsConfig())
    for result in runs:
        value_patients(result.events, result.patients, build_parameter_set(), settings)
    settings.decision_population(build_parameter_set())
    library = set(load_library())
    assert accessed <= library, f"read without an entry: {sorted(accessed - library)}"
    assert library - accessed == set(), f"entries the model never reads: {sorted(library - accessed)}"


def test_literal_parameter_names_in_code_have_entries():
    library = set(load_library())
    pattern = re.compile(r"""\.(?:value|dist)\(\s*["']([a-z0-9_]+\.[a-z0-9_.]+)["']""")
    found = set()
    for path in (ROOT / "simulator").rglob("*.py"):
        found.update(pattern.findall(path.read_text(encoding="utf-8")))
    assert found, "the scan found no parameter reads"
    assert found <= library, sorted(found - library)


def test_every_entry_has_a_source_or_an_assumption():
    for name, (entry, _) in load_library().items():
        assert entry.source or entry.assumption, name
        assert entry.unit, name
