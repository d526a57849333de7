"""`nelm-sim params` prints the provenance table; parameter files are validated with named errors."""

from __future__ import annotations

import csv
import io

import pytest

from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.params.parameter_set import build_parameter_set, load_library

from .conftest import tiny_scenario


def test_params_prints_every_parameter_with_source(capsys):
    assert main(["params", "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["name"] for r in rows} == set(load_library())
    for row in rows:
        assert row["unit"] and row["source"], row
    by_name = {r["name"]: r for r in rows}
    assert "Scoville" in by_name["hepatectomy.perioperative_mortality"]["source"]
    assert by_name["cohort.extrahepatic"]["source"].startswith("assumption:")


def test_params_shows_scenario_overrides(write_scenario, capsys):
    path = write_scenario(tiny_scenario(parameters={"hepatectomy.perioperative_mortality": 0.05}))
    assert main(["params", str(path), "--csv"]) == 0
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(capsys.readouterr().out))}
    row = rows["hepatectomy.perioperative_mortality"]
    assert row["value"] == "0.05" and "override" in row["source"] and row["file"] == path.name


def test_distribution_override_is_validated_with_the_parameter_name():
    with pytest.raises(ScenarioError, match="natural_history.time_to_progression.*shape"):
        build_parameter_set(
            {"natural_history.time_to_progression": {"distribution": "weibull", "params": {"shape": -1, "median": 3}}}, "s.yaml"
        )
    params = build_parameter_set(
        {"natural_history.time_to_progression": {"distribution": "weibull", "params": {"shape": 1.3, "median": 20}}}, "s.yaml"
    )
    assert params.dist("natural_history.time_to_progression").median == pytest.approx(20)


def test_value_override_of_a_distribution_is_refused():
    with pytest.raises(ScenarioError, match="distribution"):
        build_parameter_set({"natural_history.time_to_progression": 12}, "s.yaml")
