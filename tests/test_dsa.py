"""One-way deterministic sensitivity analysis: bounds, re-valuation vs re-simulation, tornado outputs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.config import Scenario
from simulator.economics.sampling import dsa_bounds, load_posterior, replace_entries
from simulator.experiments.dsa import run_dsa
from simulator.experiments.runner import prepare

from .conftest import tiny_scenario


@pytest.fixture(scope="module")
def prepared():
    return prepare(Scenario.model_validate(tiny_scenario(cohort={"size": 80})), "scenario.yaml")


def only_bounds(prepared, bounds: dict[str, tuple[float, float]]):
    """The prepared scenario with low/high on the named parameters only, and no other parameter varied."""
    updates = {}
    for name, entry in prepared.params.entries.items():
        if name in bounds:
            low, high = bounds[name]
            updates[name] = entry.model_copy(update={"low": low, "high": high, "range_source": "assumption: test"})
        elif entry.low is not None or entry.psa is not None or not entry.psa_fixed:
            # Neither bounds nor a PSA distribution (nor a posterior): not varied.
            updates[name] = entry.model_copy(update={"low": None, "high": None, "range_source": None, "psa": None, "psa_fixed": "test"})
    return dataclasses.replace(prepared, params=replace_entries(prepared.params, updates))


def test_valuation_parameter_revalues_the_base_log(prepared):
    case = only_bounds(prepared, {"cost.end_of_life": (0.0, 9000.0)})
    result = run_dsa(case, wtp=20000, target="systemic-first")
    rows = result.results.set_index(["bound", "strategy"])
    # Same events at both bounds: QALYs identical, costs higher with the higher end-of-life cost.
    for strategy in ("surgery-first", "systemic-first"):
        assert rows.at[("low", strategy), "qalys"] == rows.at[("high", strategy), "qalys"]
        assert rows.at[("high", strategy), "costs"] > rows.at[("low", strategy), "costs"]
    tornado = result.tornado.iloc[0]
    assert tornado["parameter"] == "cost.end_of_life" and tornado["base_value"] == 4500
    assert tornado["range"] == pytest.approx(abs(tornado["inmb_high"] - tornado["inmb_low"]))
    # The base INMB lies between the two bounds (linear in the end-of-life cost).
    assert min(tornado["inmb_low"], tornado["inmb_high"]) <= result.base_inmb <= max(tornado["inmb_low"], tornado["inmb_high"])


def test_clinical_parameter_re_simulates(prepared):
    case = only_bounds(prepared, {"hepatectomy.perioperative_mortality": (0.0, 0.5)})
    result = run_dsa(case, wtp=20000, target="systemic-first")
    rows = result.results.set_index(["bound", "strategy"])
    # Half of all operations fatal: surgery-first loses QALYs; systemic-first (no surgery) is unchanged.
    assert rows.at[("high", "surgery-first"), "qalys"] < rows.at[("low", "surgery-first"), "qalys"] - 0.1
    assert rows.at[("high", "systemic-first"), "qalys"] == rows.at[("low", "systemic-first"), "qalys"]


def test_tornado_is_sorted_by_range_and_covers_every_bounded_parameter(prepared):
    result = run_dsa(prepared, wtp=30000)
    assert sorted(result.tornado["parameter"]) == [b.label for b in dsa_bounds(prepared.params, load_posterior())]
    ranges = result.tornado["range"].to_numpy()
    assert (np.diff(ranges) <= 0).all()
    assert result.comparator != result.target
    assert set(result.results["strategy"]) == {"surgery-first", "systemic-first"}


def test_dsa_command_writes_the_tornado(write_scenario, tmp_path):
    path = write_scenario(tiny_scenario(cohort={"size": 10}, economics={"comparator": "systemic-first"}))
    out = tmp_path / "dsa"
    assert main(["dsa", str(path), "--out", str(out), "--wtp", "25000"]) == 0
    for name in ("dsa.csv", "tornado.csv", "economics.csv", "icer.csv", "manifest.json", "figures/tornado.png"):
        assert (out / name).is_file(), name
    tornado = read_csv(out / "tornado.csv")
    assert len(tornado) == len(dsa_bounds(prepare(Scenario.model_validate(tiny_scenario()), "s").params, load_posterior()))
    # Clinical and economic parameters in one tornado (issue 17 item 3), each with where its range comes from.
    assert set(tornado["kind"]) == {"clinical", "economic"}
    clinical = tornado.set_index("parameter")
    for name in ("lanreotide.progression_hazard_ratio", "disease.hr_grade_g3", "ablation.time_to_progression.median"):
        assert (
            clinical.at[name, "kind"] == "clinical"
            and clinical.at[name, "low"] < clinical.at[name, "base_value"] < clinical.at[name, "high"]
        )
    # A drug effect's range is its published 95% CI: CLARINET's HR 0.47 (0.30-0.73).
    assert clinical.at["lanreotide.progression_hazard_ratio", "low"] == pytest.approx(0.30, rel=0.02)
    assert clinical.at["lanreotide.progression_hazard_ratio", "high"] == pytest.approx(0.73, rel=0.02)
    assert clinical["bounds_from"].str.len().min() > 10
    dsa = read_csv(out / "dsa.csv")
    comparator_rows = dsa[dsa["strategy"] == "systemic-first"]
    assert (comparator_rows["inmb"] == 0).all()


def test_dsa_refuses_a_target_that_is_the_comparator(write_scenario, tmp_path, capsys):
    path = write_scenario(tiny_scenario(cohort={"size": 10}, economics={"comparator": "systemic-first"}))
    status = main(["dsa", str(path), "--out", str(tmp_path / "o"), "--strategy", "systemic-first"])
    err = capsys.readouterr().err
    assert status == 2 and "comparator" in err and len(err.strip().splitlines()) == 1
