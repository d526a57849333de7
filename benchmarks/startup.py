"""How long the quick commands take from a cold start on this machine (issue 20 item 4: `--version`,
`validate` and `params` in under a second). Prints the median of several runs of each, and what each
loads of the heavy libraries; it asserts nothing (tests/test_startup.py checks what they load).

    .venv/bin/python benchmarks/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = (
    ["--version"],
    ["validate", "scenarios/baseline.yaml"],
    ["params"],
    ["params", "scenarios/baseline.yaml"],
    ["validate", "scenarios/capacity-constrained.yaml"],
)
HEAVY = ("pandas", "scipy.stats", "matplotlib", "lifelines", "simpy", "streamlit")
PROBE = (
    "import runpy, sys\n"
    "sys.argv = ['nelm-sim', *sys.argv[1:]]\n"
    "try:\n"
    "    runpy.run_module('simulator', run_name='__main__')\n"
    "except SystemExit:\n"
    "    pass\n"
    f"print(','.join(m for m in {HEAVY!r} if m in sys.modules), file=sys.stderr)\n"
)


def seconds(arguments: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simulator", *arguments], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def loaded(arguments: list[str]) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, *arguments], cwd=ROOT, check=True, capture_output=True, text=True)
    return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each command (default 5); the median is shown")
    runs = parser.parse_args().runs
    print(f"{'command':<52} {'median s':>9} {'min s':>7}  heavy libraries loaded")
    for arguments in COMMANDS:
        times = [seconds(arguments) for _ in range(runs)]
        print(f"{'nelm-sim ' + ' '.join(arguments):<52} {statistics.median(times):>9.2f} {min(times):>7.2f}  {loaded(arguments) or '-'}")


if __name__ == "__main__":
    main()
