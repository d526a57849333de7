"""A run writes every promised file; the same scenario and seed reproduce it exactly."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from simulator.cli import build_parser, main

from .conftest import tiny_scenario

EXPECTED_FILES = ("manifest.json", "events.parquet", "patients.csv", "summary.csv", "survival.csv", "figures/overall_survival.png")


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Run twice into two folders, once for the module: the tests only read them."""
    root = tmp_path_factory.mktemp("two_runs")
    path = root / "scenario.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario(replications=2, cohort={"size": 80}), sort_keys=False), encoding="utf-8")
    first, second = root / "first", root / "second"
    assert main(["run", str(path), "--out", str(first)]) == 0
    assert main(["run", str(path), "--out", str(second)]) == 0
    return first, second


def test_run_folder_has_every_file(two_runs):
    first, _ = two_runs
    for name in EXPECTED_FILES:
        assert (first / name).is_file(), name
    manifest = json.loads((first / "manifest.json").read_text())
    for key in ("scenario_sha256", "seed", "versions", "wall_time_seconds", "command_line"):
        assert key in manifest
    assert manifest["versions"]["simpy"] != "not installed"
    patients = pd.read_csv(first / "patients.csv")
    assert len(patients) == 2 * 2 * 80  # replications x strategies x patients
    for column in ("replication", "strategy", "patient_id", "os_months", "death", "primary_site", "functional"):
        assert column in patients.columns
    summary = pd.read_csv(first / "summary.csv")
    assert list(summary["strategy"]) == ["surgery-first", "systemic-first"]
    # The headers analysts read carry their units (the code's own names do not: output.csv_header).
    for column in ("median_os_months", "median_os_lower_95_months", "median_os_upper_95_months", "os_1y_probability", "os_5y_probability"):
        assert column in summary.columns
    survival = pd.read_csv(first / "survival.csv")
    assert {"time_months", "survival_probability"} <= set(survival.columns)
    assert not any(p.name.startswith(".") for p in first.parent.iterdir()), "a staging folder was left behind"


def test_same_seed_same_outputs(two_runs):
    first, second = two_runs
    for name in ("patients.csv", "summary.csv", "survival.csv"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    pd.testing.assert_frame_equal(pd.read_parquet(first / "events.parquet"), pd.read_parquet(second / "events.parquet"))


def test_other_seed_other_outputs(write_scenario, tmp_path):
    path = write_scenario(tiny_scenario(cohort={"size": 80}))
    assert main(["run", str(path), "--out", str(tmp_path / "a"), "--seed", "1"]) == 0
    assert main(["run", str(path), "--out", str(tmp_path / "b"), "--seed", "2"]) == 0
    assert (tmp_path / "a" / "patients.csv").read_bytes() != (tmp_path / "b" / "patients.csv").read_bytes()


def test_cli_overrides_are_applied(write_scenario, tmp_path):
    path = write_scenario(tiny_scenario())
    out = tmp_path / "o"
    assert main(["run", str(path), "--out", str(out), "--patients", "7", "--replications", "3"]) == 0
    patients = pd.read_csv(out / "patients.csv")
    assert patients.groupby("strategy").size().tolist() == [21, 21]


def test_help_describes_every_option(capsys):
    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["--help"])
    top = capsys.readouterr().out
    for word in ("run", "validate", "params", "--version", "--debug"):
        assert word in top
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--help"])
    text = capsys.readouterr().out
    run_parser = next(a for a in parser._subparsers._group_actions[0].choices.values() if a.prog.endswith(" run"))
    for action in run_parser._actions:
        for option in action.option_strings:
            assert option in text
        if action.help is not None:
            assert action.help.split()[0] in text
