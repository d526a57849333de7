"""Every bad input gets one line on stderr naming file, field and expectation; exit 2; no output folder."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.cli import main

from .conftest import ROOT, tiny_scenario


def run_cli(args, capsys):
    status = main(args)
    captured = capsys.readouterr()
    return status, captured.err


CASES = {
    "unknown key": (tiny_scenario(colour="blue"), "colour", "unknown key"),
    "wrong type": (tiny_scenario(replications="many"), "replications", "whole number"),
    "negative cohort size": (tiny_scenario(cohort={"size": -5}), "cohort.size", ">= 1"),
    "horizon of 0": (tiny_scenario(horizon_months=0), "horizon_months", "> 0"),
    "unknown strategy name": (
        tiny_scenario(strategies=[{"name": "surgery-first"}, {"name": "magic-cure"}]),
        "strategies[1].name",
        "bundled strategy",
    ),
    "unknown strategy as text": (tiny_scenario(strategies=["surgery-first", "magic-cure"]), "strategies[1].name", "bundled strategy"),
    "unknown treatment in a rule": (
        tiny_scenario(strategies=[{"name": "mine", "rules": [{"treatment": "homeopathy"}]}]),
        "strategies[0].rules[0].treatment",
        "one of",
    ),
    "unknown parameter": (tiny_scenario(parameters={"hepatectomy.magic": 1}), "parameters.hepatectomy.magic", "nelm-sim params"),
    "probability above 1": (
        tiny_scenario(parameters={"hepatectomy.perioperative_mortality": 1.5}),
        "parameters.hepatectomy.perioperative_mortality",
        "<= 1",
    ),
    "missing field": ({k: v for k, v in tiny_scenario().items() if k != "seed"}, "seed", "required"),
    "mix above 1": (tiny_scenario(cohort={"size": 10, "mix": {"functional": 1.2}}), "cohort.mix.functional", "<= 1"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_scenario_gets_one_line(case, write_scenario, tmp_path, capsys):
    data, field, expected = CASES[case]
    path = write_scenario(data)
    out = tmp_path / "out"
    status, err = run_cli(["run", str(path), "--out", str(out)], capsys)
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert str(path) in lines[0]
    assert field in lines[0]
    assert expected in lines[0]
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_missing_file(tmp_path, capsys):
    status, err = run_cli(["run", str(tmp_path / "nope.yaml"), "--out", str(tmp_path / "out")], capsys)
    assert status == 2
    assert "nope.yaml" in err and "existing scenario file" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("name: [unclosed\n", "valid YAML"),
        ("a: &x [1]\nb: *x\n", "anchors and aliases"),
        ("!!python/object/apply:os.system ['echo hi']\n", "valid YAML"),
        ("- just\n- a list\n", "mapping"),
    ],
)
def test_invalid_yaml(text, expected, write_scenario, tmp_path, capsys):
    path = write_scenario(text)
    status, err = run_cli(["run", str(path), "--out", str(tmp_path / "out")], capsys)
    assert status == 2
    assert expected in err and str(path) in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_existing_output_folder_is_not_overwritten(write_scenario, tmp_path, capsys):
    path = write_scenario(tiny_scenario(cohort={"size": 5}))
    out = tmp_path / "out"
    out.mkdir()
    status, err = run_cli(["run", str(path), "--out", str(out)], capsys)
    assert status == 2 and "--force" in err
    assert list(out.iterdir()) == []


def test_subprocess_prints_no_traceback(write_scenario, tmp_path):
    path = write_scenario(tiny_scenario(horizon_months=-3))
    completed = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert completed.stderr.count("\n") == 1 and "Traceback" not in completed.stderr
    assert "horizon_months" in completed.stderr
    assert not (tmp_path / "out").exists()


def _strict_models():
    from simulator import config

    seen, pending = [], [config.Strict]
    while pending:
        model = pending.pop()
        for sub in model.__subclasses__():
            if sub not in seen:
                seen.append(sub)
                pending.append(sub)
    return seen


def _whole_number_fields(model):
    import typing

    for name, field in model.model_fields.items():
        text = repr(field.annotation)
        if "int" in text and "bool" not in text and typing.get_origin(field.annotation) is not list:
            yield name


@pytest.mark.parametrize("loose", [True, "3", 3.0])
def test_every_whole_number_field_of_every_section_refuses_loose_types(loose):
    """true, "3" and 3.0 are not whole numbers anywhere in a scenario file (issue 19, item 5)."""
    from pydantic import ValidationError

    checked = 0
    for model in _strict_models():
        for name in _whole_number_fields(model):
            try:
                model.model_validate({name: loose})
            except ValidationError as exc:
                errors = [e for e in exc.errors() if e["loc"][:1] == (name,)]
                assert errors and all(e["type"] != "missing" for e in errors), (model.__name__, name, loose)
            else:
                raise AssertionError(f"{model.__name__}.{name} accepted {loose!r}")
            checked += 1
    assert checked >= 10  # economics psa_draws/psa_patients/price_year/ceac_wtp_points, cohort size, capacity...


@pytest.mark.parametrize(
    "economics,field",
    [
        ({"psa_draws": True}, "economics.psa_draws"),
        ({"psa_draws": "3"}, "economics.psa_draws"),
        ({"psa_patients": 10.0}, "economics.psa_patients"),
        ({"price_year": 2023.0}, "economics.price_year"),
        ({"price_year": "2023"}, "economics.price_year"),
    ],
)
def test_loose_economics_numbers_are_refused_with_one_line(write_scenario, capsys, economics, field):
    path = write_scenario(tiny_scenario(economics=economics))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0] and "whole number" in err[0], err


@pytest.mark.parametrize(
    "economics,field",
    [
        ({"willingness_to_pay": [20000, 1e300]}, "economics.willingness_to_pay[1]"),
        ({"ceac_wtp_max": 1e300}, "economics.ceac_wtp_max"),
        ({"population": 1e300}, "economics.population"),
    ],
)
def test_economic_sizes_that_would_overflow_are_refused_up_front(write_scenario, capsys, economics, field):
    """No output may hold an infinity (issue 19, item 7): what would overflow is bounded on input."""
    path = write_scenario(tiny_scenario(economics=economics))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0] and "<=" in err[0], err


def test_a_distribution_for_a_single_value_parameter_is_refused_by_validate(write_scenario, capsys):
    """It used to pass validate and params, then crash run, psa and scenarios (issue 19, item 9)."""
    override = {"hepatectomy.perioperative_mortality": {"distribution": "exponential", "params": {"rate": 1}}}
    path = write_scenario(tiny_scenario(parameters=override))
    for command in (["validate", str(path)], ["params", str(path)]):
        assert main(command) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "parameters.hepatectomy.perioperative_mortality.distribution" in err[0], err


def _seed_copy(tmp_path):
    import shutil

    folder = tmp_path / "seed"
    shutil.copytree(ROOT / "scenarios" / "seed", folder)
    return folder


@pytest.mark.parametrize(
    "change,file,field",
    [
        (
            lambda f: (f / "promid.yaml").write_text((f / "promid.yaml").read_text().replace("name: promid", "name: netter1")),
            "promid.yaml",
            "name",
        ),
        (
            lambda f: (f / "promid.yaml").write_text((f / "promid.yaml").read_text().replace("placebo", "dummy")),
            "promid.yaml",
            "strategies",
        ),
        (lambda f: (f / "netter1.yaml").write_text("name: [oops"), "netter1.yaml", ""),
        (lambda f: [p.unlink() for p in f.glob("*.yaml")], "seed", ""),
    ],
    ids=["duplicate-name", "arm-missing", "bad-yaml", "empty"],
)
def test_seed_folders_are_validated_like_scenario_files(tmp_path, capsys, change, file, field):
    """One line naming the file, before any simulation (issue 19, item 6)."""
    folder = _seed_copy(tmp_path)
    change(folder)
    assert main(["calibrate", "--check", "--seed-dir", str(folder), "--patients", "20", "--out", str(tmp_path / "out"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{file}:" in err[0] and f" {field}" in err[0], err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "change,suggestion",
    [
        ({"cohrt": {"size": 3}}, "did you mean 'cohort'?"),
        ({"horizon_month": 60}, "did you mean 'horizon_months'?"),
        ({"strategies": ["surgery-frist"]}, "did you mean 'surgery-first'?"),
        ({"strategies": [{"name": "x", "rules": [{"treatment": "everolimis"}]}]}, "did you mean 'everolimus'?"),
        ({"parameters": {"hepatectomy.perioperative_mortaliy": 0.02}}, "did you mean 'hepatectomy.perioperative_mortality'?"),
    ],
)
def test_a_misspelt_key_strategy_treatment_or_parameter_gets_a_suggestion(write_scenario, capsys, change, suggestion):
    path = write_scenario({**tiny_scenario(), **change})
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and suggestion in err[0], err


def test_no_suggestion_when_nothing_is_close(write_scenario, capsys):
    path = write_scenario({**tiny_scenario(), "zzzzzz": 1})
    assert main(["validate", str(path)]) == 2
    assert "did you mean" not in capsys.readouterr().err


def test_user_errors_survive_the_trip_back_from_a_worker_process():
    """A ScenarioError raised in a worker is pickled back to the parent: it must rebuild from its own fields."""
    import pickle

    from simulator.errors import ParameterError, ScenarioError

    error = ScenarioError("s.yaml", "cohort.size", "a whole number", 0.5)
    again = pickle.loads(pickle.dumps(error))
    assert (type(again), str(again)) == (ScenarioError, str(error))
    parameter_error = ParameterError("s.yaml", "tace.procedure_mortality", "a probability", 2)
    assert str(pickle.loads(pickle.dumps(parameter_error))) == str(parameter_error)
