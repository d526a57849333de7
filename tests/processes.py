"""Helpers of the tests that run nelm-sim in real processes (signals, concurrent writers, file-size limits):
start a command, wait for it, hold it still, and find what it may have left beside its output folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .conftest import ROOT

START_TIMEOUT_SECONDS = 60  # import and start of a subprocess, generous for a loaded CI machine
POLL_SECONDS = 0.002


def default_interrupt_handling() -> None:
    """A test suite started in the background (`make test &`, some CI runners) inherits SIGINT as
    ignored, and Python then never raises KeyboardInterrupt: give the child the default a user has."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def environment() -> dict[str, str]:
    # PYTHONFAULTHANDLER: a command that hangs prints the stack of each of its threads on SIGABRT (finish).
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path, "PYTHONFAULTHANDLER": "1"}


def start(args: list[str], cwd: Path, preexec_fn: Callable[[], None] = default_interrupt_handling) -> subprocess.Popen:
    """`python -m simulator ARGS` in ``cwd``, its output captured."""
    return subprocess.Popen(
        [sys.executable, "-m", "simulator", *args],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=preexec_fn,
    )


def wait_for(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not condition():
        assert process.poll() is None, f"the command ended before {what}: {process.stderr.read() if process.stderr else ''}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(POLL_SECONDS)


def finish(process: subprocess.Popen, timeout: float = START_TIMEOUT_SECONDS * 3) -> subprocess.CompletedProcess:
    """Wait for ``process`` (killed if it takes longer than ``timeout``) and return what it printed."""
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        try:
            stderr = process.communicate(timeout=START_TIMEOUT_SECONDS)[1]
        except subprocess.TimeoutExpired:
            stderr = "(no stacks: it did not answer SIGABRT)"
        raise AssertionError(f"{' '.join(map(str, process.args))} did not finish in {timeout} s; its threads:\n{stderr}") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def staging(out: Path) -> list[Path]:
    """The hidden staging folders of ``out``: being written (.partial-*) or being replaced (.old-*)."""
    return sorted(out.parent.glob(f".{out.name}.partial-*")) + sorted(out.parent.glob(f".{out.name}.old-*"))


def lock(out: Path) -> Path:
    return out.parent / f".{out.name}.lock"


def checkpoint(out: Path) -> Path:
    return out.parent / f".{out.name}.checkpoint"


def hidden_leftovers(folder: Path) -> list[str]:
    """Staging folders and lock files anywhere below ``folder`` (a PSA's checkpoint is not one)."""
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob(".*") if ".partial-" in p.name or ".old-" in p.name or p.name.endswith(".lock")
    )


def file_size_limit(limit: int) -> Callable[[], None]:
    """A child's setup: files of at most ``limit`` bytes (RLIMIT_FSIZE), which fail as a full disk does."""

    def apply() -> None:
        import resource

        default_interrupt_handling()
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


@contextmanager
def holder_stopped(process: subprocess.Popen, lock_path: Path) -> Iterator[None]:
    """Within the block, ``process`` holds its destination (it has made ``lock_path``) and is stopped
    (SIGSTOP), however short its work: a second command meets the holder every time."""
    wait_for(lambda: lock_path.exists() and holding_a_lock(process.pid), process, "the command to hold its destination")
    process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        process.send_signal(signal.SIGCONT)


def _file_locks() -> list[list[str]]:
    return [line.split() for line in Path("/proc/locks").read_text(encoding="utf-8").splitlines()]


def holding_a_lock(pid: int) -> bool:
    """Whether process ``pid`` holds a file lock (its lock file exists before the lock is taken)."""
    return any(len(words) > 4 and words[1] != "->" and words[4] == str(pid) for words in _file_locks())


def waiting_for_a_lock(pid: int) -> bool:
    """Whether process ``pid`` is blocked on a file lock (a `->` line of /proc/locks)."""
    return any(len(words) > 5 and words[1] == "->" and words[5] == str(pid) for words in _file_locks())


def processes_mentioning(text: str, settle_seconds: float = 5.0) -> list[int]:
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


def run_program(lines: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -c`` of ``lines`` with the project importable and SIGINT as a user has it."""
    return subprocess.run(
        [sys.executable, "-c", "\n".join(lines)],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT_SECONDS,
        preexec_fn=default_interrupt_handling,
    )
