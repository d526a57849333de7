"""Output safety: no overwrite without --force, --force replaces only folders nelm-sim wrote, output
paths from a scenario stay inside outputs/, bad --out paths are refused before any simulation, and a
run that fails or is interrupted leaves neither a half-written folder nor a damaged old one."""

from __future__ import annotations

import json
import os
import stat

import pytest

import simulator.commands.run
from simulator.cli import main
from simulator.io import OUTPUT_MARKER

from .conftest import forbid_simulation, tiny_scenario


@pytest.fixture
def scenario(write_scenario):
    return write_scenario(tiny_scenario(cohort={"size": 4}))


@pytest.fixture
def no_simulation(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(simulator.commands.run, "run_prepared", refuse)


def error_line(capsys, status, expected_status=2):
    err = capsys.readouterr().err
    assert status == expected_status, err
    lines = err.splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def test_existing_folder_is_refused_without_force_and_left_intact(scenario, tmp_path, capsys, no_simulation):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    line = error_line(capsys, main(["run", str(scenario), "--out", str(out)]))
    assert str(out) in line and "--force" in line
    assert (out / "notes.txt").read_text() == "mine" and len(list(out.iterdir())) == 1


def test_force_replaces_a_previous_run_folder(scenario, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out), "--seed", "1"]) == 0
    assert (out / OUTPUT_MARKER).is_file()
    first = json.loads((out / "manifest.json").read_text())
    (out / "stale.txt").write_text("from before")
    assert main(["run", str(scenario), "--out", str(out), "--seed", "2", "--force"]) == 0
    second = json.loads((out / "manifest.json").read_text())
    assert (first["seed"], second["seed"]) == (1, 2)
    assert not (out / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "scenario.yaml"], "a staging or retired folder was left behind"


@pytest.mark.parametrize("where", ["foreign folder", "current folder"])
def test_force_never_replaces_a_folder_nelm_sim_did_not_write(where, scenario, tmp_path, monkeypatch, capsys, no_simulation):
    """`--out . --force` or `--out ~/thesis --force` must not delete the user's files."""
    if where == "current folder":
        monkeypatch.chdir(tmp_path)
        out = "."
    else:
        out = str(tmp_path / "thesis")
        (tmp_path / "thesis").mkdir()
        (tmp_path / "thesis" / "chapter1.tex").write_text("precious")
    line = error_line(capsys, main(["run", str(scenario), "--out", out, "--force"]))
    assert "left untouched" in line
    assert scenario.read_text().startswith("name:")
    assert (where == "current folder") or (tmp_path / "thesis" / "chapter1.tex").read_text() == "precious"


def test_out_below_a_file_is_refused_before_simulating(scenario, tmp_path, capsys, no_simulation):
    blocker = tmp_path / "results.txt"
    blocker.write_text("a file")
    line = error_line(capsys, main(["run", str(scenario), "--out", str(blocker / "sub" / "run")]))
    assert str(blocker) in line and "is a file" in line
    assert blocker.read_text() == "a file"


def test_out_that_is_a_file_is_refused_even_with_force(scenario, tmp_path, capsys, no_simulation):
    blocker = tmp_path / "results.txt"
    blocker.write_text("a file")
    line = error_line(capsys, main(["run", str(scenario), "--out", str(blocker), "--force"]))
    assert "found a file" in line and blocker.read_text() == "a file"


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write anywhere")
def test_out_in_a_read_only_folder_is_refused_before_simulating(scenario, tmp_path, capsys, no_simulation):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        line = error_line(capsys, main(["run", str(scenario), "--out", str(locked / "run")]))
        assert "not writable" in line
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("name", ["../escape", "..", ".", "/etc/nelm", "a/../../b", "~root", ".hidden", "a\\b", "con:", "a\x00b", "é"])
def test_scenario_names_cannot_escape_the_output_root(name, write_scenario, tmp_path, monkeypatch, capsys, no_simulation):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = write_scenario(tiny_scenario(name=name))
    line = error_line(capsys, main(["run", str(path)]))
    assert f"{path}: name: expected" in line
    assert list(work.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["scenario.yaml", "work"]


def test_default_output_folder_is_inside_outputs(write_scenario, tmp_path, monkeypatch, capsys):
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = write_scenario(tiny_scenario(name="a..b", cohort={"size": 3}))
    assert main(["run", str(path)]) == 0
    assert [p.name for p in (work / "outputs").iterdir()] == ["a..b"]
    assert (work / "outputs" / "a..b" / "manifest.json").is_file()


@pytest.mark.parametrize("failure", [OSError("disk full"), KeyboardInterrupt()])
def test_a_failed_or_interrupted_write_leaves_no_folder_and_keeps_the_old_one(failure, scenario, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert main(["run", str(scenario), "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    seen = {}

    def failing_figure(survival, path, title):
        # files go to a staging folder beside the destination, never into the destination itself
        seen["staging"] = path.parent.parent
        raise failure

    monkeypatch.setattr(simulator.commands.run, "overall_survival_figure", failing_figure)
    capsys.readouterr()
    status = main(["run", str(scenario), "--out", str(out), "--force"])
    error_line(capsys, status, expected_status=130 if isinstance(failure, KeyboardInterrupt) else 1)
    assert seen["staging"].parent == out.parent and seen["staging"] != out and not seen["staging"].exists()
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before, "the previous run folder was damaged"
    fresh = tmp_path / "fresh"
    status = main(["run", str(scenario), "--out", str(fresh)])
    capsys.readouterr()
    assert not fresh.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "scenario.yaml"], "a staging folder was left behind"


def test_output_folders_get_the_users_umask(scenario, tmp_path, capsys):
    """mkdtemp's private 0700 staging folder used to become the output folder (issue 20, item 11)."""
    previous = os.umask(0o022)
    try:
        assert main(["run", str(scenario), "--quiet", "--workers", "1", "--out", str(tmp_path / "shared")]) == 0
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "shared").stat().st_mode) == 0o755


@pytest.fixture
def nothing_runs(monkeypatch):
    """Every command's simulation fails the test: destinations must be refused before it starts."""
    forbid_simulation(monkeypatch)


def _bad_destinations(tmp_path):
    (tmp_path / "a-file").write_text("mine\n", encoding="utf-8")
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "calibration.csv").write_text("mine\n", encoding="utf-8")
    return {
        "a file": (tmp_path / "a-file", "expected a folder"),
        "below a file": (tmp_path / "a-file" / "out", "is a file"),
        "existing without --force": (existing, "--force"),
        "name too long": (tmp_path / ("x" * 250), "at most"),
        "folder name too long": (tmp_path / ("y" * 256) / "out", "at most 255 bytes"),
    }


COMMAND_LINES = {
    "calibrate": ["calibrate", "--check", "--patients", "20"],
    "calibrate fit": ["calibrate", "--fit-patients", "20", "--max-evaluations", "1", "--latin-hypercube", "0"],
    "reproduce": ["reproduce", "--patients", "20"],
    "run": ["run", "{s}"],
    "compare": ["compare", "{s}"],
    "psa": ["psa", "{s}", "--draws", "2"],
    "dsa": ["dsa", "{s}"],
}


@pytest.mark.parametrize("destination", ["a file", "below a file", "existing without --force", "name too long", "folder name too long"])
@pytest.mark.parametrize("command", sorted(COMMAND_LINES))
def test_every_command_refuses_a_bad_destination_before_any_work(
    command, destination, scenario, tmp_path, capsys, monkeypatch, nothing_runs
):
    """Issue 19 item 10: calibrate (and every other command) checks --out before simulating: one line, exit 2,
    the user's file untouched, nothing written."""
    from .conftest import ROOT

    monkeypatch.chdir(ROOT)
    out, expected = _bad_destinations(tmp_path)[destination]
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = [a.replace("{s}", str(scenario)) for a in COMMAND_LINES[command]] + ["--out", str(out), "--quiet"]
    line = error_line(capsys, main(argv))
    assert expected in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "mine\n"
    assert (tmp_path / "existing" / "calibration.csv").read_text(encoding="utf-8") == "mine\n"


def test_calibrate_writes_through_a_staging_folder_and_replaces_only_with_force(tmp_path, capsys, monkeypatch):
    from .conftest import ROOT

    monkeypatch.chdir(ROOT)
    out = tmp_path / "calibration"
    argv = ["calibrate", "--check", "--patients", "30", "--out", str(out), "--quiet"]
    assert main(argv) in (0, 1)
    assert (out / "calibration.csv").is_file() and (out / OUTPUT_MARKER).is_file()
    first = (out / "calibration.csv").read_text(encoding="utf-8")
    capsys.readouterr()
    assert "--force" in error_line(capsys, main(argv))
    assert main([*argv, "--force"]) in (0, 1)
    assert (out / "calibration.csv").read_text(encoding="utf-8") == first
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_signal_just_after_the_staging_folder_is_made_leaves_nothing(tmp_path, monkeypatch):
    """SIGTERM arriving the moment the staging folder exists (the race the write-phase signal test hit
    about one run in four under load): the folder is still removed and the interruption still raised."""
    import os
    import signal
    import tempfile

    from simulator import io

    made = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp_then_signal(*args, **kwargs):
        folder = real_mkdtemp(*args, **kwargs)
        made.append(folder)
        os.kill(os.getpid(), signal.SIGTERM)  # delivered now unless the caller deferred it
        return folder

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    monkeypatch.setattr(io.tempfile, "mkdtemp", mkdtemp_then_signal)
    try:
        with pytest.raises(KeyboardInterrupt):
            with io.atomic_folder(tmp_path / "out", force=False) as staging:
                (staging / "a.csv").write_text("x\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert made and not any(os.path.exists(folder) for folder in made)
    assert [p.name for p in tmp_path.iterdir() if p.name != ".out.lock"] == []  # the lock file is kept by design


def test_a_signal_between_the_two_renames_of_a_forced_replacement_leaves_the_new_folder_whole(tmp_path, monkeypatch):
    """--force replaces an old folder in two renames (the old one aside, the new one in its place). A
    SIGTERM between them used to leave no folder at the destination and the old output hidden in
    `.out.old-*`, removed later as stale: both renames now finish before the interruption is raised."""
    import signal
    from pathlib import Path

    from simulator import io

    out = tmp_path / "out"
    with io.atomic_folder(out, force=False) as staging:
        (staging / "result.csv").write_text("old\n", encoding="utf-8")
    real_replace = os.replace
    retired = []

    def replace_then_signal(source, target):
        real_replace(source, target)
        if Path(target).name == "old":  # the old folder has just been moved aside
            retired.append(target)
            os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(io.os, "replace", replace_then_signal)
    try:
        with pytest.raises(KeyboardInterrupt), io.sigterm_as_interrupt():
            with io.atomic_folder(out, force=True) as staging:
                (staging / "result.csv").write_text("new\n", encoding="utf-8")
    finally:
        io.release_destinations()
    assert retired, "the replacement never moved the old folder aside: the test shows nothing"
    assert (out / "result.csv").read_text(encoding="utf-8") == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no .out.old-*, .out.partial-* or lock


def test_a_failed_second_rename_of_a_forced_replacement_puts_the_old_folder_back(tmp_path, monkeypatch):
    import errno
    from pathlib import Path

    from simulator import io

    out = tmp_path / "out"
    with io.atomic_folder(out, force=False) as staging:
        (staging / "result.csv").write_text("old\n", encoding="utf-8")
    real_replace = os.replace

    def second_rename_fails(source, target):
        if Path(source).name.startswith(".out.partial-"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_replace(source, target)

    monkeypatch.setattr(io.os, "replace", second_rename_fails)
    try:
        with pytest.raises(OSError, match="No space left"):
            with io.atomic_folder(out, force=True) as staging:
                (staging / "result.csv").write_text("new\n", encoding="utf-8")
    finally:
        io.release_destinations()
    assert (out / "result.csv").read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_a_capacity_run_whose_tables_hold_text_columns_prints_only_its_own_lines(write_scenario, tmp_path, capsys):
    path = write_scenario(
        tiny_scenario(
            cohort={"size": 1},
            horizon_months=1e-6,
            strategies=["surgery-first"],
            capacity={
                "resources": {
                    "day_unit": {"capacity": 1, "schedule": [{"day": "mon", "start": 0.0, "hours": 1e-6}]},
                    "ir_suite": {"capacity": 1},
                }
            },
        )
    )
    status = main(["run", str(path), "--out", str(tmp_path / "out"), "--workers", "1", "--quiet"])
    err = capsys.readouterr().err
    assert status == 0 and err == "", err


def test_a_signal_waiting_for_an_import_when_the_block_ends_reaches_the_handler_outside_it(tmp_path, monkeypatch):
    """psa holds signals in a block inside main's: one that arrived during an import and was still
    waiting for it to end when the inner block ended must reach main's handler, not be dropped."""
    import importlib
    import signal
    import sys

    from simulator import io

    (tmp_path / "signals_itself.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\nfor _ in range(1000):\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    received = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    monkeypatch.setattr(io, "IMPORT_POLL_SECONDS", 60.0)  # the block ends long before the poll would resend it
    try:
        with io.sigterm_as_interrupt():
            importlib.import_module("signals_itself")
            assert received == []  # held while importing, and the import finished
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.modules.pop("signals_itself", None)
    assert received == [signal.SIGTERM]


def test_a_signal_while_a_worker_process_starts_interrupts_once_it_has_started(interrupt_as_a_user_has):
    """Seen by the signal fuzz (compare, SIGINT while it started its workers): the signal was handled in
    a callback that os.fork runs in the parent (logging's lock release), where exceptions are ignored; it
    printed "Exception ignored ... KeyboardInterrupt" and the command ran on to exit 0."""
    import multiprocessing
    import signal
    import time

    from simulator import io

    armed = [True]

    def signal_after_fork() -> None:
        if armed:  # once: the callback stays registered for the rest of the session
            armed.clear()
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # bytecode, where Python runs a signal handler
                pass

    os.register_at_fork(after_in_parent=signal_after_fork)
    worker = multiprocessing.get_context("fork").Process(target=int)
    slept_through = []
    with pytest.raises(KeyboardInterrupt), io.sigterm_as_interrupt():
        worker.start()
        time.sleep(10)  # only the interruption ends this early (it lands within milliseconds: io.IMPORT_POLL_SECONDS)
        slept_through.append(True)  # the signal waited for the end of the block instead of the start
    worker.join()
    assert not armed and not slept_through


def test_a_signal_while_a_destination_is_claimed_leaves_no_lock_file(tmp_path, monkeypatch, interrupt_as_a_user_has):
    """Seen by the signal fuzz (run, SIGINT as it started): the lock file was created and locked, the
    interruption came before the process had recorded it, and nothing removed it at exit."""
    import fcntl
    import signal

    from simulator import io

    real_flock = fcntl.flock

    def flock_then_signal(handle, operation):
        real_flock(handle, operation)
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):  # bytecode, where Python runs a signal handler
            pass

    monkeypatch.setattr(io.fcntl, "flock", flock_then_signal)
    out = tmp_path / "out"
    try:
        with pytest.raises(KeyboardInterrupt), io.sigterm_as_interrupt():
            io.claim_destination(out)
    finally:
        io.release_destinations()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("finaliser", ["weakref.finalize", "matplotlib", "any weakref callback"])
def test_a_signal_inside_a_finaliser_interrupts_once_the_finaliser_has_run(finaliser, interrupt_as_a_user_has):
    """Seen by the signal fuzz (scenarios, SIGINT while it wrote figures): the signal was handled inside
    the weakref callback by which Matplotlib forgets a closed figure's listeners, where Python prints
    an exception as "Exception ignored" and drops it; the command ran on to exit 0."""
    import gc
    import signal
    import sys
    import time
    import weakref

    from simulator import io

    class Listener:
        def changed(self, *args):
            pass

    def signal_in(qualname):
        def trace(frame, event, arg):
            if event == "call" and frame.f_code.co_qualname == qualname:
                sys.settrace(None)
                os.kill(os.getpid(), signal.SIGINT)
            return None

        return trace

    listener = Listener()
    if finaliser == "any weakref callback":  # seen too: WeakKeyDictionary's and a Matplotlib transform's

        def forget(reference):
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # bytecode, where Python runs a signal handler
                pass

        kept = weakref.ref(listener, forget)  # noqa: F841 - the callback runs while the reference lives
        tracer = None
    elif finaliser == "weakref.finalize":
        weakref.finalize(listener, int)
        tracer = signal_in("finalize.__call__")
    else:
        from matplotlib import cbook

        registry = cbook.CallbackRegistry()
        registry.connect("changed", listener.changed)
        tracer = signal_in("CallbackRegistry._remove_proxy")
    slept_through = []
    with pytest.raises(KeyboardInterrupt), io.sigterm_as_interrupt():
        sys.settrace(tracer)
        try:
            del listener  # the finaliser runs here, and the signal arrives inside it
            gc.collect()
        finally:
            sys.settrace(None)
        time.sleep(10)  # only the interruption ends this early (it lands within milliseconds: io.IMPORT_POLL_SECONDS)
        slept_through.append(True)  # the signal waited for the end of the block instead of the finaliser
    assert not slept_through
