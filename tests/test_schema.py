"""`nelm-sim schema`: a standard JSON Schema validator accepts every bundled scenario file with it and
refuses what `validate` refuses for the file's shape (issue 20, item 6)."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml

from simulator.cli import main

from .conftest import ROOT, tiny_scenario

BUNDLED = sorted(
    [
        *(ROOT / "scenarios").glob("*.yaml"),
        *(ROOT / "scenarios" / "seed").glob("*.yaml"),
        *(ROOT / "tests" / "regression" / "scenarios").glob("*.yaml"),
    ]
)


@pytest.fixture(scope="module")
def validator():
    from simulator.commands.schema import scenario_schema

    schema = scenario_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_command_prints_a_valid_json_schema(capsys, tmp_path):
    assert main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert main(["schema", "--out", str(tmp_path / "scenario.schema.json")]) == 0
    assert json.loads((tmp_path / "scenario.schema.json").read_text(encoding="utf-8")) == printed


@pytest.mark.parametrize("path", BUNDLED, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_bundled_scenario_file_validates_against_the_schema(validator, path):
    assert len(BUNDLED) >= 12
    errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
    assert errors == [], errors[0].message


@pytest.mark.parametrize("horizon", ["lifetime", 60, 1200])
def test_the_schema_accepts_every_horizon_validate_accepts(validator, write_scenario, capsys, horizon):
    data = {**tiny_scenario(), "horizon_months": horizon}
    assert main(["validate", str(write_scenario(data))]) == 0
    assert list(validator.iter_errors(data)) == [], horizon
    variant = {**tiny_scenario(), "variants": [{"name": "v", "horizon_months": horizon}]}
    assert list(validator.iter_errors(variant)) == [], horizon


@pytest.mark.parametrize(
    "change",
    [
        {"horizon_months": "forever"},
        {"horizon_months": 1201},
        {"cohrt": {"size": 3}},  # a misspelt key
        {"replications": "two"},
        {"cohort": {"size": 0}},
        {"horizon_months": -1},
        {"strategies": [{"name": "x", "rules": [{"treatment": "tace", "when": {"grade": 3}}]}]},
    ],
)
def test_the_schema_refuses_what_validate_refuses(validator, write_scenario, capsys, change):
    data = {**tiny_scenario(), **change}
    assert list(validator.iter_errors(data)), change
    assert main(["validate", str(write_scenario(data))]) == 2
