"""Never lose a user's files, never leave a half-written folder (issue 19, items 1-4): real processes,
real signals, real concurrent writers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from simulator.cli import main

from .conftest import ROOT, tiny_scenario

START_TIMEOUT_SECONDS = 60  # import and start of a subprocess, generous for a loaded CI machine
POLL_SECONDS = 0.002
# Big enough that the write phase (figures, report) lasts long enough to be caught while it runs.
SLOW = tiny_scenario(cohort={"size": 300}, replications=2, strategies=["surgery-first", "systemic-first", "best-supportive-care"])


LONG_RUN_PATIENTS = "15000"  # a first command still running while a second starts (several seconds)


def _default_interrupt_handling() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_interrupt_handling,
    )


def _wait_for(condition, process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not condition():
        assert process.poll() is None, f"the command ended before {what}: {process.stderr.read()}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_SECONDS)


def _finish(process: subprocess.Popen) -> subprocess.CompletedProcess:
    try:
        stdout, stderr = process.communicate(timeout=START_TIMEOUT_SECONDS * 3)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _staging(out: Path) -> list[Path]:
    return sorted(out.parent.glob(f".{out.name}.partial-*")) + sorted(out.parent.glob(f".{out.name}.old-*"))


@pytest.fixture
def slow_scenario(tmp_path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(SLOW), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_folder_that_appears_at_out_while_writing_is_never_deleted(slow_scenario, tmp_path):
    out = tmp_path / "mine"
    process = _start(["compare", str(slow_scenario), "--workers", "1", "--quiet", "--out", str(out)], tmp_path)
    _wait_for(lambda: bool(_staging(out)), process, "the write phase")
    out.mkdir()
    (out / "thesis.txt").write_text("precious", encoding="utf-8")
    done = _finish(process)
    assert (out / "thesis.txt").read_text(encoding="utf-8") == "precious"
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert _staging(out) == []


@pytest.mark.slow
def test_a_second_command_writing_to_the_same_out_is_refused_naming_the_holder(slow_scenario, tmp_path):
    out = tmp_path / "same"
    first = _start(
        ["run", str(slow_scenario), "--workers", "1", "--quiet", "--seed", "1", "--patients", LONG_RUN_PATIENTS, "--out", str(out)],
        tmp_path,
    )
    lock = out.parent / f".{out.name}.lock"
    _wait_for(lock.exists, first, "the first command to hold the destination")
    second = subprocess.run(
        [sys.executable, "-m", "simulator", "run", str(slow_scenario), "--quiet", "--seed", "2", "--out", str(out)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
    )
    assert first.poll() is None, "the first command ended before the second tried: the test shows nothing"
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and f"pid {first.pid}" in lines[0] and "--wait" in lines[0], lines
    done = _finish(first)
    assert done.returncode == 0, done.stderr
    assert (out / "summary.csv").exists() and _staging(out) == []


@pytest.mark.slow
def test_wait_queues_behind_the_holder_and_then_writes(slow_scenario, tmp_path):
    out = tmp_path / "queued"
    first = _start(
        ["run", str(slow_scenario), "--workers", "1", "--quiet", "--seed", "1", "--patients", LONG_RUN_PATIENTS, "--out", str(out)],
        tmp_path,
    )
    _wait_for((out.parent / f".{out.name}.lock").exists, first, "the first command to hold the destination")
    second = _start(
        ["run", str(slow_scenario), "--workers", "1", "--quiet", "--seed", "2", "--force", "--wait", "--out", str(out)], tmp_path
    )
    assert _finish(first).returncode == 0
    waited = _finish(second)
    assert waited.returncode == 0, waited.stderr
    manifest = yaml.safe_load((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 2  # the second run's folder, written after the first finished


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "compare", "scenarios"])
@pytest.mark.parametrize("phase", ["simulating", "writing"])
def test_sigterm_stops_every_command_cleanly(slow_scenario, tmp_path, command, phase):
    out = tmp_path / f"{command}-{phase}"
    args = [command, str(slow_scenario), "--quiet", "--out", str(out)]
    if command != "scenarios":
        args += ["--workers", "2"]
    process = _start(args, tmp_path)
    if phase == "writing":
        _wait_for(lambda: bool(_staging(out)), process, "the write phase")
    else:
        _wait_for((out.parent / f".{out.name}.lock").exists, process, "the command to start")
    process.send_signal(signal.SIGTERM)
    done = _finish(process)
    if done.returncode == 0:
        pytest.skip("the command finished before the signal arrived")
    assert done.returncode == 130, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not out.exists() and _staging(out) == []
    assert _processes_mentioning(str(out)) == [], "worker processes outlived the command"


def _processes_mentioning(text: str, settle_seconds: float = 5.0) -> list[int]:
    """Live processes whose command line contains ``text`` (forked workers carry their parent's), after
    giving stopped workers a moment to exit."""
    deadline = time.monotonic() + settle_seconds
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if text in (entry / "cmdline").read_bytes().decode("utf-8", "replace"):
                        found.append(int(entry.name))
                except OSError:
                    continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_stale_staging_folders_of_the_destination_are_removed_and_reported(write_scenario, tmp_path, capsys):
    path = write_scenario(tiny_scenario(cohort={"size": 20}))
    out = tmp_path / "out"
    stale = [tmp_path / ".out.partial-abc123", tmp_path / ".out.old-def456"]
    stale[0].mkdir()
    (stale[0] / ".nelm-sim-output").write_text("written by nelm-sim", encoding="utf-8")
    (stale[1] / "old").mkdir(parents=True)
    (stale[1] / "old" / ".nelm-sim-output").write_text("written by nelm-sim", encoding="utf-8")
    theirs = tmp_path / ".out.partial-notours"  # not recognisably nelm-sim's: left alone
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine", encoding="utf-8")
    assert main(["run", str(path), "--quiet", "--workers", "1", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "removed 2 stale staging folders" in err and str(out) in err
    assert not any(p.exists() for p in stale) and (theirs / "notes.txt").exists()


def _file_size_limit(limit: int):
    def apply() -> None:
        import resource

        _default_interrupt_handling()
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "psa"])
def test_a_file_size_limit_is_one_line_naming_the_path_and_nothing_half_written(slow_scenario, tmp_path, command):
    """A full disk or a file-size limit used to be an `internal error` (issue 19, item 11)."""
    out = tmp_path / "limited"
    args = [command, str(slow_scenario), "--workers", "1", "--quiet", "--out", str(out)]
    if command == "psa":
        args += ["--draws", "3", "--patients", "40"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "simulator", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS * 3,
        preexec_fn=_file_size_limit(4096),
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not write (File too large)" in lines[0] and str(tmp_path) in lines[0], lines
    assert "internal error" not in lines[0] and "Traceback" not in done.stderr
    if command == "psa":
        assert "--resume" in lines[0]
    assert not out.exists() and _staging(out) == []
