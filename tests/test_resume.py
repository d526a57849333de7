"""Resumable PSA runs: completed draws are checkpointed beside the output folder, an interrupted run
(SIGKILL, SIGINT, SIGTERM) resumes with --resume, and the outputs are byte for byte those of an
uninterrupted run."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import simulator.experiments.psa as psa_module
from simulator.cli import main
from simulator.io import checkpoint_folder

from .conftest import ROOT, tiny_scenario

DRAWS, PATIENTS = 60, 20  # enough draws that a loaded machine cannot finish the run before the signal lands
KILL_AFTER = 3  # draws saved before the run is stopped: some done, most not
COMPARED = ("psa.csv", "psa_parameters.csv", "psa_summary.csv", "icer.csv", "ceac.csv", "evpi.csv")
POLL_SECONDS = 0.002  # a draw of 20 patients takes tens of milliseconds: poll well within one
START_TIMEOUT_SECONDS = 60  # import and first draws of a subprocess, generous for a loaded CI machine


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("resume") / "scenario.yaml"
    path.write_text(yaml.safe_dump(tiny_scenario(economics={"ceac_wtp_points": 11})), encoding="utf-8")
    return path


def _psa_args(scenario: Path, out: Path, workers: int = 1, draws: int = DRAWS) -> list[str]:
    return ["psa", str(scenario), "--draws", str(draws), "--patients", str(PATIENTS), "--workers", str(workers), "--out", str(out)]


@pytest.fixture(scope="module")
def uninterrupted(scenario) -> Path:
    out = scenario.parent / "uninterrupted"
    assert main(_psa_args(scenario, out)) == 0
    assert not checkpoint_folder(out).exists()  # deleted once the folder is written
    return out


def _saved_draws(out: Path) -> int:
    folder = checkpoint_folder(out)
    return len(list(folder.glob("draw-*.json"))) if folder.is_dir() else 0


def _assert_same_outputs(folder: Path, reference: Path) -> None:
    for name in COMPARED:
        assert (folder / name).read_bytes() == (reference / name).read_bytes(), name


def _default_interrupt_handling() -> None:
    """A test suite started in the background (`make test &`, some CI runners) inherits SIGINT as
    ignored, and Python then never raises KeyboardInterrupt: give the child the default a user has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_stop(scenario: Path, out: Path, workers: int, stop: signal.Signals) -> subprocess.CompletedProcess:
    """Run `python -m simulator psa` and send ``stop`` once KILL_AFTER (but not all) draws are saved."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator", *_psa_args(scenario, out, workers)],
        cwd=scenario.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_interrupt_handling,
    )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    try:
        while _saved_draws(out) < KILL_AFTER:
            assert process.poll() is None, f"the run ended before {KILL_AFTER} draws were saved: {process.stderr.read()}"
            assert time.monotonic() < deadline, "no draws saved in time"
            time.sleep(POLL_SECONDS)
        os.kill(process.pid, stop)
        stdout, stderr = process.communicate(timeout=START_TIMEOUT_SECONDS)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert KILL_AFTER <= _saved_draws(out) < DRAWS, "stopped too late to test a resume"
    assert not out.exists(), "an interrupted run must not leave an output folder"
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_sigkill_mid_run_then_resume_gives_byte_identical_psa_csv(scenario, uninterrupted, monkeypatch):
    out = scenario.parent / "killed"
    stopped = _start_and_stop(scenario, out, workers=1, stop=signal.SIGKILL)
    assert stopped.returncode == -signal.SIGKILL
    saved = _saved_draws(out)

    run = []  # the resumed run computes only the draws that were not saved
    original = psa_module.run_draw
    monkeypatch.setattr(psa_module, "run_draw", lambda prepared, draw, *rest: run.append(draw) or original(prepared, draw, *rest))
    assert main([*_psa_args(scenario, out), "--resume"]) == 0
    assert len(run) == DRAWS - saved and min(run) > 1
    assert (out / "psa.csv").read_bytes() == (uninterrupted / "psa.csv").read_bytes()
    _assert_same_outputs(out, uninterrupted)
    assert not checkpoint_folder(out).exists()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["draws"] == DRAWS


@pytest.mark.parametrize(("stop", "workers"), [(signal.SIGINT, 1), (signal.SIGTERM, 2)], ids=["sigint", "sigterm-2-workers"])
def test_sigint_and_sigterm_stop_cleanly_with_the_resume_command(scenario, uninterrupted, stop, workers):
    out = scenario.parent / f"stopped-{stop.name}"
    stopped = _start_and_stop(scenario, out, workers=workers, stop=stop)
    assert stopped.returncode == 130
    lines = stopped.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in stopped.stderr, stopped.stderr
    assert f"interrupted after {_saved_draws(out)} of {DRAWS} draws; resume with: nelm-sim psa " in lines[0]
    command = shlex.split(lines[0].split("resume with: ", 1)[1])
    assert command[:2] == ["nelm-sim", "psa"] and command[-1] == "--resume"
    assert main(command[1:]) == 0  # the printed command itself resumes the run
    _assert_same_outputs(out, uninterrupted)
    assert not checkpoint_folder(out).exists()


def _interrupt_at(monkeypatch, draw_to_stop: int) -> None:
    """Ctrl-C during ``draw_to_stop``, in process (workers=1 runs the draws in this process)."""
    original = psa_module.run_draw

    def _draw(prepared, draw, *rest):
        if draw == draw_to_stop:
            raise KeyboardInterrupt
        return original(prepared, draw, *rest)

    monkeypatch.setattr(psa_module, "run_draw", _draw)


def test_ctrl_c_keeps_the_checkpoint_and_resume_with_two_workers_matches(scenario, uninterrupted, monkeypatch, capsys):
    out = scenario.parent / "ctrl-c"
    with monkeypatch.context() as patch:
        _interrupt_at(patch, KILL_AFTER + 1)
        assert main(_psa_args(scenario, out)) == 130
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"interrupted after {KILL_AFTER} of {DRAWS} draws" in err and "--resume" in err
    assert not out.exists() and _saved_draws(out) == KILL_AFTER
    assert main([*_psa_args(scenario, out, workers=2), "--resume"]) == 0  # results do not depend on --workers
    _assert_same_outputs(out, uninterrupted)


def test_a_checkpoint_is_neither_ignored_nor_mixed_with_other_settings(scenario, uninterrupted, monkeypatch, capsys):
    out = scenario.parent / "guarded"
    with monkeypatch.context() as patch:
        _interrupt_at(patch, KILL_AFTER + 1)
        assert main(_psa_args(scenario, out)) == 130
    capsys.readouterr()

    # Without --resume: refused, naming both ways out.
    assert main(_psa_args(scenario, out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--resume" in err and "--force" in err and "checkpoint" in err

    # Different settings: refused, naming what differs; the checkpoint is kept.
    assert main([*_psa_args(scenario, out, draws=DRAWS - 1), "--resume"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "draws" in err and _saved_draws(out) == KILL_AFTER
    assert main([*_psa_args(scenario, out), "--seed", "8", "--resume"]) == 2
    assert "seed" in capsys.readouterr().err

    # A changed scenario file: refused too.
    changed = scenario.parent / "changed" / scenario.name
    changed.parent.mkdir()
    changed.write_text(yaml.safe_dump(tiny_scenario(economics={"ceac_wtp_points": 21})), encoding="utf-8")
    assert main(["psa", str(changed), *_psa_args(scenario, out)[2:], "--resume"]) == 2
    assert "scenario_sha256" in capsys.readouterr().err

    # --force discards the checkpoint and starts again.
    assert main([*_psa_args(scenario, out), "--force"]) == 0
    _assert_same_outputs(out, uninterrupted)
    assert not checkpoint_folder(out).exists()


def test_force_never_deletes_a_folder_that_is_not_a_checkpoint(scenario, capsys):
    out = scenario.parent / "foreign"
    folder = checkpoint_folder(out)
    folder.mkdir()
    (folder / "notes.txt").write_text("mine", encoding="utf-8")
    assert main([*_psa_args(scenario, out, draws=1), "--force"]) == 2
    assert "left untouched" in capsys.readouterr().err
    assert (folder / "notes.txt").read_text(encoding="utf-8") == "mine"


def test_resume_without_a_checkpoint_runs_from_the_start(scenario, uninterrupted):
    out = scenario.parent / "fresh"
    assert main([*_psa_args(scenario, out), "--resume"]) == 0
    _assert_same_outputs(out, uninterrupted)
