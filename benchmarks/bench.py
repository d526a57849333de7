"""`make bench`: throughput, parallel speed-up and peak memory, printed and written to benchmarks/results.md.

Measures, on this machine, in one run:
1. the baseline cohort: patient-lifetimes and events per second of the engine, and the ratio of the
   model's events per second to the timeouts per second of a bare SimPy loop executing the same
   number of events (measured here, now, so both see the same machine and load);
2. a PSA: the same draws with 1 and 2 worker processes, and the speed-up;
3. a capacity-constrained run, when the scenario exists (patients share theatres, so the SimPy
   scheduler runs it);
4. peak memory of summary-mode runs of growing size, up to 1,000,000 patients, in a child process;
5. a one-way sensitivity analysis of a small cohort (20 patients per run): hundreds of short runs,
   where what surrounds the engine (random streams, tables, valuation) costs more than the engine.

Asserts nothing: these are measurements, not tests. Each timing is the best of ``--repeats`` runs
(the least disturbed by other work on the machine). Usage:
    .venv/bin/python benchmarks/bench.py [--quick] [--write benchmarks/results.md] [--psa-full]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import simpy

from simulator.config import load_scenario
from simulator.core.rng import RandomStreams
from simulator.economics.settings import EconomicSettings
from simulator.engine.model import PathwayModel
from simulator.experiments.execution import Execution
from simulator.experiments.psa import run_psa
from simulator.experiments.runner import patient_table, prepare, scenario_cohort

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "scenarios" / "baseline.yaml"
CAPACITY = ROOT / "scenarios" / "capacity-constrained.yaml"
LINES: list[str] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    LINES.append(text)


# ------------------------------------------------------------------------------ machine


def machine() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kib = int(next(row for row in Path("/proc/meminfo").read_text().splitlines() if row.startswith("MemTotal")).split()[1])
        memory = f", {kib / 2**20:.1f} GiB RAM"
    except (OSError, StopIteration):
        pass
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return [
        f"- date: {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC",
        f"- CPU: {cpu}, {os.cpu_count()} logical cores{memory}",
        f"- OS: {platform.platform()}",
        f"- Python {platform.python_version()}, numpy {np.__version__}, simpy {simpy.__version__}",
        f"- load average at start (1, 5, 15 min): {load}",
    ]


# ------------------------------------------------------------------------------ 1. baseline throughput


def bare_simpy(events: int) -> float:
    """Timeouts per second of a SimPy loop that does nothing but yield timeouts."""

    def loop(env, n):
        for _ in range(n):
            yield env.timeout(1.0)

    env = simpy.Environment()
    env.process(loop(env, events))
    started = time.perf_counter()
    env.run()
    return events / (time.perf_counter() - started)


def baseline_throughput(patients: int, repeats: int, burden_model: bool = False) -> dict:
    scenario = load_scenario(BASELINE).with_overrides(patients=patients, replications=1)
    if burden_model:  # the disease model v2 of issue 16 (engine/tumour.py) on the same cohort and strategies
        data = scenario.model_dump(mode="json", exclude_none=True)
        data["parameters"] = {**data.get("parameters", {}), "disease.burden_model": 1}
        scenario = type(scenario).model_validate(data)
    prepared = prepare(scenario, BASELINE)
    best = {"direct": np.inf, "simpy": np.inf, "outputs": np.inf}
    events = 0
    for _ in range(repeats):
        for scheduler in ("direct", "simpy"):
            streams = RandomStreams(scenario.seed, 0)
            cohort = scenario_cohort(prepared, streams, scenario.cohort.size)
            run_seconds = outputs_seconds = 0.0
            events = 0
            for strategy in prepared.strategies:
                started = time.perf_counter()
                model = PathwayModel(prepared.params, strategy, cohort, scenario.horizon_months, streams, 0, scheduler=scheduler).run()
                run_seconds += time.perf_counter() - started
                events += len(model.log)
                if scheduler == "direct":
                    started = time.perf_counter()
                    model.log.to_frame()
                    patient_table(model, 0)
                    outputs_seconds += time.perf_counter() - started
            best[scheduler] = min(best[scheduler], run_seconds)
            if scheduler == "direct":
                best["outputs"] = min(best["outputs"], run_seconds + outputs_seconds)
    ceiling = max(bare_simpy(events) for _ in range(repeats))
    lifetimes = patients * len(prepared.strategies)
    return {"lifetimes": lifetimes, "events": events, "ceiling": ceiling, "strategies": len(prepared.strategies), **best}


def both_disease_models(patients: int, repeats: int) -> tuple[dict, dict]:
    """``baseline_throughput`` of the hazard-ratio and the burden model, their repeats alternating so that both
    see the same phases of a machine whose speed drifts (measured here: 20% within minutes)."""
    best: list[dict] = [{}, {}]
    for _ in range(repeats):
        for index, burden_model in enumerate((False, True)):
            found = baseline_throughput(patients, 1, burden_model=burden_model)
            kept = best[index]
            best[index] = {**found, **{key: min(found[key], kept.get(key, np.inf)) for key in ("direct", "simpy", "outputs")}}
            best[index]["ceiling"] = max(found["ceiling"], kept.get("ceiling", 0.0))
    return best[0], best[1]


def report_baseline(r: dict, patients: int, title: str = "1. Baseline cohort") -> None:
    say(f"### {title} ({patients:,} patients x {r['strategies']} strategies, one process)")
    say()
    say("| measure | seconds | lifetimes/s | events/s | events/s over bare SimPy |")
    say("|---|---|---|---|---|")
    for label, key in (
        ("engine, direct scheduler (default for cohorts)", "direct"),
        ("engine + event log frame + patient table", "outputs"),
        ("engine, SimPy scheduler (shared event queue)", "simpy"),
    ):
        seconds = r[key]
        say(
            f"| {label} | {seconds:.3f} | {r['lifetimes'] / seconds:,.0f} | {r['events'] / seconds:,.0f} | {r['events'] / seconds / r['ceiling']:.3f} |"
        )
    say()
    say(
        f"Events (log records) in the run: {r['events']:,} ({r['events'] / r['lifetimes']:.1f} per lifetime). "
        f"Bare SimPy loop, same number of timeouts, same run: {r['ceiling']:,.0f} timeouts/s."
    )
    say()


_MEASURE_IN_CHECKOUT = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/benchmarks"]
import bench
r = bench.baseline_throughput(int(sys.argv[2]), 1)
print(json.dumps({"lifetimes": r["lifetimes"], "direct": r["direct"], "events": r["events"]}))
"""


def engine_comparison(other: Path, patients: int, rounds: int) -> dict:
    """Direct-scheduler throughput of this checkout and of ``other`` (e.g. a checkout of the commit before a
    change), measured in alternating child processes in the same run: both see the same machine and load."""
    best = {"this": np.inf, "other": np.inf}
    lifetimes = 0
    pair = (("this", ROOT), ("other", other))
    for round_index in range(rounds):
        # ABBA order: whichever runs first in a round was measured to run a few percent faster.
        for label, checkout in pair if round_index % 2 == 0 else pair[::-1]:
            env = {**os.environ, "PYTHONPATH": str(checkout)}
            done = subprocess.run(
                [sys.executable, "-c", _MEASURE_IN_CHECKOUT, str(checkout), str(patients)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            r = json.loads(done.stdout.strip().splitlines()[-1])
            best[label] = min(best[label], r["direct"])
            lifetimes = r["lifetimes"]
    return {"lifetimes": lifetimes, **best}


def report_engine_comparison(r: dict, other: Path, rounds: int) -> None:
    say(f"### Engine before and after a change (direct scheduler, best of {rounds} runs each, in ABBA order)")
    say()
    say("| checkout | seconds | lifetimes/s |")
    say("|---|---|---|")
    say(f"| this one ({_commit(ROOT)}) | {r['this']:.3f} | {r['lifetimes'] / r['this']:,.0f} |")
    say(f"| {other.name} ({_commit(other)}) | {r['other']:.3f} | {r['lifetimes'] / r['other']:,.0f} |")
    say()
    say(f"Ratio this / other: **{r['other'] / r['this']:.3f}** (above 1: this checkout is faster).")
    say()


def _commit(checkout: Path) -> str:
    done = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown commit"


# ------------------------------------------------------------------------------ 5. small-cohort DSA


def small_dsa(patients: int, repeats: int) -> None:
    from simulator.config import apply_overrides
    from simulator.experiments.dsa import run_dsa

    prepared = prepare(apply_overrides(load_scenario(BASELINE), BASELINE, patients=patients, replications=1), BASELINE)
    settings = EconomicSettings.from_scenario(prepared.scenario)
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run_dsa(prepared, settings)
        best = min(best, time.perf_counter() - started)
    runs = (result.results[["parameter", "bound"]].drop_duplicates().shape[0] + 1) * len(prepared.strategies)  # type: ignore[union-attr]
    say(f"### 5. One-way sensitivity analysis, {patients} patients per run, 1 replication, 1 worker")
    say()
    say(f"{best:.1f} s for about {runs:,} strategy runs (bounds x strategies, base case included): {1000 * best / runs:.1f} ms per run.")
    say()


# ------------------------------------------------------------------------------ 2. PSA


def psa_speedup(draws: int, patients: int) -> dict:
    scenario = load_scenario(BASELINE)
    prepared = prepare(scenario, BASELINE)
    settings = EconomicSettings.from_scenario(scenario)
    seconds = {}
    outcomes = {}
    for workers in (1, 2):
        started = time.perf_counter()
        result = run_psa(prepared, draws, patients, settings=settings, execution=Execution(workers=workers))
        seconds[workers] = time.perf_counter() - started
        outcomes[workers] = result.outcomes
    identical = outcomes[1].equals(outcomes[2])
    return {"seconds": seconds, "identical": identical, "draws": draws, "patients": patients, "strategies": len(prepared.strategies)}


def report_psa(r: dict) -> None:
    one, two = r["seconds"][1], r["seconds"][2]
    lifetimes = r["draws"] * r["patients"] * r["strategies"]
    say(f"### 2. PSA ({r['draws']} draws x {r['patients']:,} patients x {r['strategies']} strategies, costs and QALYs valued per draw)")
    say()
    say("| workers | seconds | seconds per draw | lifetimes/s |")
    say("|---|---|---|---|")
    for workers, seconds in r["seconds"].items():
        say(f"| {workers} | {seconds:.1f} | {seconds / r['draws']:.3f} | {lifetimes / seconds:,.0f} |")
    say()
    say(
        f"Speed-up of 2 workers over 1: **{one / two:.2f}**; outputs identical: {r['identical']}. "
        f"At this rate 1,000 draws of 2,000 patients per strategy take about "
        f"{1000 * two / r['draws'] * 2000 / r['patients'] / 60:.1f} minutes with 2 workers."
    )
    say()


def psa_full() -> None:
    """The real command of the acceptance criterion, timed end to end (writing its folder included)."""
    with tempfile.TemporaryDirectory() as folder:
        command = [
            str(Path(sys.executable).with_name("nelm-sim")),
            "psa",
            str(BASELINE),
            "--draws",
            "1000",
            "--patients",
            "2000",
            "--workers",
            "2",
            "--out",
            f"{folder}/psa",
            "--quiet",
        ]
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - started
    say(
        f"`nelm-sim psa scenarios/baseline.yaml --draws 1000 --patients 2000 --workers 2`: **{seconds / 60:.1f} minutes** ({seconds:.0f} s)."
    )
    say()


# ------------------------------------------------------------------------------ 3. capacity-constrained


def capacity_run(repeats: int) -> None:
    say("### 3. Capacity-constrained run")
    say()
    if not CAPACITY.exists():
        say(f"`{CAPACITY.relative_to(ROOT)}` does not exist yet: not measured.")
        say()
        return
    from simulator.api import run_scenario

    scenario = load_scenario(CAPACITY)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        outcome = run_scenario(scenario, CAPACITY)
        best = min(best, time.perf_counter() - started)
    lifetimes = len(outcome.result.patients)
    events = len(outcome.result.events)
    ceiling = bare_simpy(events)
    say(
        f"`{CAPACITY.relative_to(ROOT)}` ({lifetimes:,} patient-lifetimes over its strategies and replications, SimPy scheduler, analysis included): "
        f"{best:.2f} s, {lifetimes / best:,.0f} lifetimes/s, {events / best:,.0f} events/s, {events / best / ceiling:.3f} of bare SimPy."
    )
    say()


# ------------------------------------------------------------------------------ 4. memory


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages counted once across the process tree."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(pid: int) -> list[int]:
    found = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for child in children:
        found.extend(_tree(int(child)))
    return found


def peak_memory(patients: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        command = [
            str(Path(sys.executable).with_name("nelm-sim")),
            "run",
            str(BASELINE),
            "--summary",
            "--patients",
            str(patients),
            "--replications",
            "1",
            "--workers",
            str(workers),
            "--out",
            f"{folder}/run",
            "--quiet",
        ]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        peak = [0]

        def sample() -> None:
            while process.poll() is None:
                peak[0] = max(peak[0], sum(_pss_kib(p) for p in _tree(process.pid)))
                time.sleep(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.join()
        if process.returncode != 0:
            raise SystemExit(f"the {patients:,}-patient summary run failed ({process.returncode})")
        seconds = time.perf_counter() - started
    return {"patients": patients, "seconds": seconds, "main_rss_mib": usage.ru_maxrss / 1024, "tree_pss_mib": peak[0] / 1024}


def report_memory(rows: list[dict], workers: int) -> None:
    say(
        f"### 4. Peak memory, summary mode (`nelm-sim run scenarios/baseline.yaml --summary --replications 1 --workers {workers}`, 6 strategies)"
    )
    say()
    say("| patients per strategy | lifetimes | seconds | main process peak RSS (MiB) | whole process tree peak PSS (MiB) |")
    say("|---|---|---|---|---|")
    for r in rows:
        say(f"| {r['patients']:,} | {6 * r['patients']:,} | {r['seconds']:.0f} | {r['main_rss_mib']:.0f} | {r['tree_pss_mib']:.0f} |")
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        say()
        say(
            f"From {first['patients']:,} to {last['patients']:,} patients ({last['patients'] / first['patients']:.0f}x), "
            f"the process tree's peak grew {last['tree_pss_mib'] / first['tree_pss_mib']:.2f}x and the main process's {last['main_rss_mib'] / first['main_rss_mib']:.2f}x."
        )
    say()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes only (a minute): for checking the script, not for results")
    parser.add_argument("--repeats", type=int, default=3, help="timings are the best of this many runs (default 3)")
    parser.add_argument("--psa-full", action="store_true", help="also time the 1,000-draw PSA command end to end (about 10 minutes)")
    parser.add_argument("--write", type=Path, metavar="FILE", help="also write the figures as markdown to FILE")
    parser.add_argument(
        "--compare-with",
        type=Path,
        metavar="DIR",
        help="also measure the baseline engine of another checkout (e.g. `git worktree add ../before <commit>`) in the same run",
    )
    parser.add_argument("--baseline-only", action="store_true", help="measure the baseline cohort only (sections 2-4 skipped)")
    args = parser.parse_args()
    patients = 500 if args.quick else 2000
    say("## Machine")
    say()
    for line in machine():
        say(line)
    say()
    say("## Results")
    say()
    hazard_ratio_model, burden_model = both_disease_models(patients, args.repeats)
    report_baseline(hazard_ratio_model, patients)
    report_baseline(burden_model, patients, "1b. Baseline cohort, burden disease model")
    say(
        f"Burden model over hazard-ratio model, direct scheduler: **{hazard_ratio_model['direct'] / burden_model['direct']:.3f}** "
        "(issue 16, criterion 6: at least 1, or 20,000 lifetimes/s)."
    )
    say()
    if args.compare_with is not None:
        rounds = max(args.repeats, 3)
        report_engine_comparison(engine_comparison(args.compare_with.resolve(), patients, rounds), args.compare_with, rounds)
    if args.baseline_only:
        _write(args)
        return
    report_psa(psa_speedup(4 if args.quick else 40, 500 if args.quick else 2000))
    if args.psa_full:
        psa_full()
    capacity_run(1 if args.quick else args.repeats)
    sizes = [20_000, 50_000] if args.quick else [100_000, 300_000, 1_000_000]
    report_memory([peak_memory(n, 2) for n in sizes], 2)
    small_dsa(20, 1 if args.quick else args.repeats)
    _write(args)


def _write(args: argparse.Namespace) -> None:
    if args.write:
        header = ["# Benchmarks", "", f"Written by `make bench` (`benchmarks/bench.py`). {__doc__.split(chr(10))[0]}", ""]
        args.write.write_text("\n".join(header + LINES) + "\n", encoding="utf-8")
        print(f"wrote {args.write}")


if __name__ == "__main__":
    main()
