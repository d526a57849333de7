"""Throughput of the baseline scenario against a bare SimPy loop executing the same number of events.

Prints figures; asserts nothing. Usage: .venv/bin/python benchmarks/throughput.py [--patients N]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import simpy

from simulator.api import run_scenario
from simulator.config import load_scenario
from simulator.experiments.runner import prepare, run_replication

ROOT = Path(__file__).resolve().parents[1]


def bare_simpy(events: int) -> float:
    """Timeouts per second of a loop that does nothing but yield timeouts."""

    def loop(env, n):
        for _ in range(n):
            yield env.timeout(1.0)

    env = simpy.Environment()
    env.process(loop(env, events))
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=2000)
    args = parser.parse_args()
    scenario = load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(patients=args.patients, replications=1)
    path = ROOT / "scenarios" / "baseline.yaml"
    prepared = prepare(scenario, path)
    started = time.perf_counter()
    events, patients = run_replication(prepared, 0)
    simulation = time.perf_counter() - started
    started = time.perf_counter()
    run_scenario(scenario, path)
    whole = time.perf_counter() - started
    lifetimes, count = len(patients), len(events)
    ceiling = bare_simpy(count)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"baseline, {args.patients} patients x {len(scenario.strategies)} strategies, one process")
    print(f"  simulation (SimPy run, event log, patient table): {simulation:.2f} s")
    print(f"    patient-lifetimes per second: {lifetimes / simulation:,.0f}")
    print(f"    events per second:            {count / simulation:,.0f}")
    print(f"    bare SimPy timeouts per second (same event count): {ceiling:,.0f}")
    print(f"    ratio model events/s to bare SimPy: {count / simulation / ceiling:.3f}")
    print(f"  with the analysis of `nelm-sim run` (Kaplan-Meier, summary): {whole:.2f} s, {lifetimes / whole:,.0f} lifetimes/s")


if __name__ == "__main__":
    main()
