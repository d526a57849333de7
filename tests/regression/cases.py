"""Regression outputs: one tiny run per command, whose CSV outputs are stored under ``expected/``.

A restructuring must leave them unchanged; a change of behaviour regenerates them with
``make regression-update`` and the diff of ``tests/regression/expected/`` is reviewed in the commit
that changes them (the commit message says why each file changed).
"""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCENARIOS = HERE / "scenarios"
EXPECTED = HERE / "expected"
TINY = SCENARIOS / "tiny.yaml"
CAPACITY = SCENARIOS / "capacity.yaml"
SEED_DIR = ROOT / "scenarios" / "seed"
# The event log is Parquet; stored as CSV so that a change to it shows as a readable diff.
EVENT_LOG_FLOAT_FORMAT = "%.10g"

# name -> command line (without --out); one process, so that the run is the same wherever it runs
# (the outputs do not depend on the number of workers: tests/test_execution.py checks that).
CASES: dict[str, list[str]] = {
    "run": ["run", str(TINY), "--replications", "1", "--workers", "1", "--quiet"],
    "run-summary": ["run", str(TINY), "--summary", "--workers", "1", "--quiet"],
    "compare": ["compare", str(TINY), "--workers", "1", "--quiet"],
    "psa": ["psa", str(TINY), "--draws", "4", "--patients", "20", "--workers", "1", "--quiet"],
    "dsa": ["dsa", str(TINY), "--patients", "20", "--replications", "1", "--workers", "1", "--quiet"],
    "run-capacity": ["run", str(CAPACITY), "--workers", "1", "--quiet"],
    "scenarios": ["scenarios", str(CAPACITY), "--workers", "1", "--quiet"],
    "capacity": ["capacity", str(CAPACITY), "--resource", "theatre", "--target-p90-wait", "30", "--max-capacity", "3", "--quiet"],
    "capacity-sessions": ["capacity", str(CAPACITY), "--resource", "theatre", "--target-p90-wait", "5", "--vary", "sessions", "--quiet"],
    "calibrate-check": ["calibrate", "--check", "--seed-dir", str(SEED_DIR), "--patients", "60", "--workers", "1", "--quiet"],
}
# calibrate --check exits 1 when targets miss, as they do with 60 patients per arm; its table is still written.
EXIT_STATUS = {"calibrate-check": 1}


def run_case(name: str, out: Path) -> dict[str, str]:
    """Run case ``name`` into ``out``; returns {relative path: CSV text} of every CSV output."""
    from simulator.cli import main

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main([*CASES[name], "--out", str(out)])
    expected_status = EXIT_STATUS.get(name, 0)
    if status != expected_status:
        raise AssertionError(f"{name}: exit status {status}, expected {expected_status}; stderr: {stderr.getvalue()}")
    for parquet in sorted(out.rglob("*.parquet")):
        pd.read_parquet(parquet).to_csv(parquet.with_suffix(".csv"), index=False, float_format=EVENT_LOG_FLOAT_FORMAT)
    return {path.relative_to(out).as_posix(): path.read_text(encoding="utf-8") for path in sorted(out.rglob("*.csv"))}


def stored(name: str) -> dict[str, str]:
    folder = EXPECTED / name
    return {path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8") for path in sorted(folder.rglob("*.csv"))}


def regenerate(names: list[str] | None = None) -> None:
    import tempfile

    for name in names or list(CASES):
        with tempfile.TemporaryDirectory() as tmp:
            outputs = run_case(name, Path(tmp) / name)
        folder = EXPECTED / name
        shutil.rmtree(folder, ignore_errors=True)
        for relative, text in outputs.items():
            target = folder / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        print(f"{name}: {len(outputs)} CSV files -> {folder.relative_to(ROOT)}")


if __name__ == "__main__":
    import sys

    regenerate(sys.argv[1:] or None)
