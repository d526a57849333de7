"""Probabilistic sensitivity analysis: draws keyed by index, identical outputs for 1 and 2 workers,
every promised output written."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.commands.output import read_csv
from simulator.config import Scenario
from simulator.experiments.psa import run_psa
from simulator.experiments.runner import prepare

from .conftest import tiny_scenario

DRAWS, PATIENTS = 6, 30
PSA_FILES = (
    "psa.csv",
    "psa_parameters.csv",
    "psa_summary.csv",
    "icer.csv",
    "ceac.csv",
    "evpi.csv",
    "evppi.csv",
    "psa_decision.csv",
    "manifest.json",
    "scenario.resolved.yaml",
    "figures/ce_plane.png",
    "figures/ceac.png",
    "figures/ceaf.png",
    "figures/evpi.png",
    "figures/convergence.png",
)


@pytest.fixture(scope="module")
def psa_folders(tmp_path_factory):
    base = tmp_path_factory.mktemp("psa")
    path = base / "scenario.yaml"
    import yaml

    path.write_text(yaml.safe_dump(tiny_scenario(economics={"ceac_wtp_points": 11})), encoding="utf-8")
    folders = {}
    for workers in (1, 2):
        out = base / f"workers{workers}"
        assert (
            main(["psa", str(path), "--draws", str(DRAWS), "--patients", str(PATIENTS), "--workers", str(workers), "--out", str(out)]) == 0
        )
        folders[workers] = out
    return folders


def test_psa_writes_every_output(psa_folders):
    folder = psa_folders[1]
    for name in PSA_FILES:
        assert (folder / name).is_file(), name
    outcomes = read_csv(folder / "psa.csv")
    assert list(outcomes.columns[:4]) == ["draw", "strategy", "costs", "qalys"]
    assert len(outcomes) == DRAWS * 2 and sorted(outcomes["draw"].unique()) == list(range(1, DRAWS + 1))
    parameters = read_csv(folder / "psa_parameters.csv")
    assert len(parameters) == DRAWS and "utility.progressed" in parameters.columns
    assert parameters["utility.progressed"].nunique() == DRAWS  # a new value in every draw
    ceac = read_csv(folder / "ceac.csv")
    np.testing.assert_allclose(ceac.groupby("wtp")["probability_cost_effective"].sum(), 1.0, atol=1e-12)
    assert (ceac.groupby("wtp")["optimal"].sum() == 1).all()
    evpi = read_csv(folder / "evpi.csv")
    assert (evpi["evpi_per_patient"] >= 0).all()
    np.testing.assert_allclose(evpi["evpi_population"], evpi["evpi_per_patient"] * evpi["population"])
    assert {20000, 30000} <= set(evpi["wtp"])
    icer = read_csv(folder / "icer.csv")
    assert set(icer["strategy"]) == {"surgery-first", "systemic-first"} and "inmb_20000" in icer.columns
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["draws"] == DRAWS and manifest["patients_per_draw"] == PATIENTS and manifest["currency"] == "GBP"


def test_one_and_two_workers_give_byte_identical_outputs(psa_folders):
    for name in ("psa.csv", "psa_parameters.csv", "psa_summary.csv", "icer.csv", "ceac.csv", "evpi.csv"):
        assert (psa_folders[1] / name).read_bytes() == (psa_folders[2] / name).read_bytes(), name


def test_draws_are_keyed_by_draw_index_and_shared_by_strategies():
    prepared = prepare(Scenario.model_validate(tiny_scenario()), "scenario.yaml")
    three = run_psa(prepared, 3, PATIENTS)
    five = run_psa(prepared, 5, PATIENTS)
    pd.testing.assert_frame_equal(three.outcomes, five.outcomes[five.outcomes["draw"] <= 3].reset_index(drop=True))
    pd.testing.assert_frame_equal(three.parameters, five.parameters.iloc[:3])
    # Different draws give different cohorts and parameters, hence different results.
    assert five.outcomes.groupby("strategy")["costs"].nunique().min() == 5


def test_psa_output_folder_must_not_exist_without_force(psa_folders, capsys):
    folder = psa_folders[1]
    status = main(["psa", "no-such-file.yaml", "--out", str(folder)])
    assert status == 2 and "no-such-file.yaml" in capsys.readouterr().err
