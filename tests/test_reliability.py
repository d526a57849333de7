"""Never lose a user's files, never leave a half-written folder (issue 19, items 1-4): real processes,
real signals, real concurrent writers."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import yaml

from simulator.cli import main

from .conftest import tiny_scenario
from .processes import (
    file_size_limit,
    finish,
    hidden_leftovers,
    holder_stopped,
    lock,
    processes_mentioning,
    run_program,
    staging,
    start,
    wait_for,
    waiting_for_a_lock,
)

# Big enough that the write phase (figures, report) lasts long enough to be caught while it runs.
SLOW = tiny_scenario(cohort={"size": 300}, replications=2, strategies=["surgery-first", "systemic-first", "best-supportive-care"])


@pytest.fixture
def small_scenario(write_scenario) -> Path:
    """For tests whose command is held still while it holds its destination: its work need not last."""
    return write_scenario(tiny_scenario(cohort={"size": 20}), "small.yaml")


@pytest.fixture
def slow_scenario(tmp_path) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(SLOW), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_folder_that_appears_at_out_while_writing_is_never_deleted(slow_scenario, tmp_path):
    out = tmp_path / "mine"
    process = start(["compare", str(slow_scenario), "--workers", "1", "--quiet", "--out", str(out)], tmp_path)
    wait_for(lambda: bool(staging(out)), process, "the write phase")
    out.mkdir()
    (out / "thesis.txt").write_text("precious", encoding="utf-8")
    done = finish(process)
    assert (out / "thesis.txt").read_text(encoding="utf-8") == "precious"
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert staging(out) == []


@pytest.mark.slow
def test_a_second_command_writing_to_the_same_out_is_refused_naming_the_holder(small_scenario, tmp_path):
    out = tmp_path / "same"
    first = start(["run", str(small_scenario), "--workers", "1", "--quiet", "--seed", "1", "--out", str(out)], tmp_path)
    with holder_stopped(first, lock(out)):  # it holds the destination for as long as the second needs
        second = finish(start(["run", str(small_scenario), "--quiet", "--seed", "2", "--out", str(out)], tmp_path))
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and str(out) in lines[0] and f"pid {first.pid}" in lines[0] and "--wait" in lines[0], lines
    done = finish(first)
    assert done.returncode == 0, done.stderr
    manifest = yaml.safe_load((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["seed"] == 1 and staging(out) == []


@pytest.mark.slow
def test_wait_queues_behind_the_holder_and_then_writes(small_scenario, tmp_path):
    out = tmp_path / "queued"
    first = start(["run", str(small_scenario), "--workers", "1", "--quiet", "--seed", "1", "--out", str(out)], tmp_path)
    with holder_stopped(first, lock(out)):
        second = start(
            ["run", str(small_scenario), "--workers", "1", "--quiet", "--seed", "2", "--force", "--wait", "--out", str(out)], tmp_path
        )
        wait_for(lambda: waiting_for_a_lock(second.pid), second, "the second command to queue for the destination")
    assert finish(first).returncode == 0
    waited = finish(second)
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
    process = start(args, tmp_path)
    if phase == "writing":
        wait_for(lambda: bool(staging(out)), process, "the write phase")
    else:
        wait_for(lock(out).exists, process, "the command to start")
    process.send_signal(signal.SIGTERM)
    done = finish(process)
    if done.returncode == 0:
        pytest.skip("the command finished before the signal arrived")
    assert done.returncode == 130, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted" in lines[0] and "Traceback" not in done.stderr, done.stderr
    assert not out.exists() and staging(out) == []
    assert processes_mentioning(str(out)) == [], "worker processes outlived the command"


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_the_interpreters_exit_keeps_the_commands_exit_status(stop, tmp_path):
    """A finished command died by a SIGINT or SIGTERM that arrived while the interpreter exited (status
    -2 or -15 instead of its own, or a traceback from an exit handler): the program ignores both once the
    command has returned. The signal is sent by the first exit handler to run (the last registered)."""
    done = run_program(
        [
            "import atexit, os, sys",
            "from simulator.cli import script",
            f"atexit.register(os.kill, os.getpid(), {int(stop)})",
            # --version: exit status 0, the path on which Python's exit runs its exit handlers (an exit
            # with another status skips them: test_an_interrupted_command_ends_although_...)
            "sys.argv = ['nelm-sim', '--version']",
            "script()",
        ],
        tmp_path,
    )
    assert done.returncode == 0 and done.stderr == "", (done.returncode, done.stderr)
    assert done.stdout.startswith("nelm-sim ")


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_just_after_the_command_has_written_its_folder_changes_nothing(stop, small_scenario, tmp_path):
    """Found by the signal fuzz under load (compare, SIGTERM 13 s in): the folder was written and the
    table printed, and the program died by the signal (-15) in the moment between the end of the
    command's signal handling, which gave SIGTERM back its default, and the program ignoring both signals
    for its exit; a SIGINT there said "no output folder was written" beside a whole folder, with 130.
    The signal is sent as the command's signal handling ends."""
    out = tmp_path / "out"
    done = run_program(
        [
            "import contextlib, os, sys",
            "import simulator.cli as cli",
            "handling = cli.sigterm_as_interrupt",
            "@contextlib.contextmanager",
            "def then_signalled(*args, **kwargs):",
            "    with handling(*args, **kwargs):",
            "        yield",
            f"    os.kill(os.getpid(), {int(stop)})",
            "cli.sigterm_as_interrupt = then_signalled",
            f"sys.argv = ['nelm-sim', 'run', {str(small_scenario)!r}, '--out', {str(out)!r}, '--quiet']",
            "from simulator.__main__ import program",
            "program()",
        ],
        tmp_path,
    )
    assert done.returncode == 0 and done.stderr == "", (done.returncode, done.stderr)
    assert (out / "manifest.json").is_file() and hidden_leftovers(tmp_path) == []


def test_an_interruption_after_the_folder_is_in_place_says_so(small_scenario, tmp_path, capsys, monkeypatch):
    """Interrupted after its folder was renamed into place (while printing its table, say), a command
    still ends with 130, and its line says that the folder is there and complete, not that none was written."""
    import simulator.reporting.tables as tables

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(tables, "run_summary_text", interrupted)
    out = tmp_path / "out"
    assert main(["run", str(small_scenario), "--out", str(out), "--quiet"]) == 130
    assert capsys.readouterr().err == f"nelm-sim: interrupted after {out} was written (it is complete)\n"
    assert (out / "manifest.json").is_file()


def test_an_interrupted_command_ends_although_a_thread_would_keep_python_waiting(tmp_path):
    """Found by the signal fuzz under load: calibrate with two workers, interrupted, printed its line and
    never ended. A worker ended while it wrote its result had left half a message in the pool's result
    pipe, and Python's exit waited forever for the pool's manager thread. Stood in for here by a thread
    that never ends: once an interrupted command has returned, the program exits without waiting for it."""
    done = run_program(
        [
            "import sys, threading",
            "import simulator.cli as cli",
            "def interrupted(argv=None, exits_after=False):",
            "    threading.Thread(target=threading.Event().wait).start()  # never ends, and is not a daemon",
            "    print('nelm-sim: interrupted; no output folder was written', file=sys.stderr)",
            "    return 130",
            "cli.main = interrupted",
            "sys.argv = ['nelm-sim']",
            "cli.script()",
        ],
        tmp_path,
    )
    assert done.returncode == 130 and done.stderr == "nelm-sim: interrupted; no output folder was written\n", (done.returncode, done.stderr)


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_program_imports_its_command_line_is_one_line_and_130(stop, tmp_path):
    """Before the command line is imported, Python's own handling applied: a KeyboardInterrupt traceback
    for SIGINT, death by SIGTERM. The signal is sent as the program imports PyYAML."""
    done = run_program(
        [
            "import builtins, os, sys",
            "real_import = builtins.__import__",
            "def importing(name, *args, **kwargs):",
            "    if name == 'yaml' and 'yaml' not in sys.modules:",
            f"        os.kill(os.getpid(), {int(stop)})",
            "    return real_import(name, *args, **kwargs)",
            "builtins.__import__ = importing",
            "sys.argv = ['nelm-sim', '--version']",
            "from simulator.__main__ import program",
            "program()",
        ],
        tmp_path,
    )
    assert done.returncode == 130 and done.stderr == "nelm-sim: interrupted; no output folder was written\n", (done.returncode, done.stderr)
    assert done.stdout == ""  # stopped before --version was read


def test_the_package_imports_nothing_before_the_program_installs_its_signal_handlers(tmp_path):
    """`python -m simulator` and the console script import the package before the program's first line
    (__main__.py) can catch a signal; a Ctrl-C in that window was a traceback (the package read its
    version through importlib.metadata, 20 ms; seen by tests/test_fuzz_commands.py). The package now
    imports nothing of its own at import, and the version is still there when asked for."""
    done = run_program(
        [
            "import sys",
            "before = set(sys.modules)",
            "import simulator",
            "print(sorted(set(sys.modules) - before - {'simulator'}))",
            "print(simulator.__version__)",
        ],
        tmp_path,
    )
    imported, version = done.stdout.splitlines()
    assert imported == "[]", imported
    assert version and version != "0+unknown", version


def test_the_console_script_is_that_program():
    from importlib.metadata import entry_points

    (program,) = entry_points(group="console_scripts", name="nelm-sim")
    assert program.value == "simulator.__main__:program"


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


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "psa"])
def test_a_file_size_limit_is_one_line_naming_the_path_and_nothing_half_written(slow_scenario, tmp_path, command):
    """A full disk or a file-size limit used to be an `internal error` (issue 19, item 11)."""
    out = tmp_path / "limited"
    args = [command, str(slow_scenario), "--workers", "1", "--quiet", "--out", str(out)]
    if command == "psa":
        args += ["--draws", "3", "--patients", "40"]
    done = finish(start(args, tmp_path, preexec_fn=file_size_limit(4096)))
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "could not write (File too large)" in lines[0] and str(tmp_path) in lines[0], lines
    assert "internal error" not in lines[0] and "Traceback" not in done.stderr
    if command == "psa":
        assert "--resume" in lines[0]
    assert not out.exists() and staging(out) == []


def test_a_holder_that_has_not_yet_written_its_line_is_still_named(tmp_path):
    """The holder writes who it is just after taking the lock: a command refused in between reads the lock
    file again instead of naming no one (a race the concurrent-writer fuzz test found)."""
    import json
    import threading

    from simulator.io import _holder

    lock = tmp_path / ".lock"
    lock.write_text("", encoding="utf-8")
    line = json.dumps({"pid": 4242, "since": "2026-12-07T01:00:00+00:00", "command": "nelm-sim run x.yaml"})
    writer = threading.Timer(0.05, lambda: lock.write_text(line + "\n", encoding="utf-8"))
    writer.start()
    try:
        assert "pid 4242" in _holder(lock)
    finally:
        writer.join()
    assert _holder(tmp_path / "missing", attempts=2) == "another nelm-sim command"
