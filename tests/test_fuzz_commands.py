"""Command fuzzing (issue 19, acceptance criterion 2): the scenario fuzzer's contract for whole commands.

Categories, each with a summary line of its counts:
1. capacity arrivals and resources at the edges of their limits (in-process);
2. corrupted seed folders for ``calibrate --check`` and ``reproduce`` (in-process);
3. SIGINT / SIGTERM at a random moment of every command (subprocess, slow);
4. concurrent writers to one ``--out`` (subprocess, slow);
5. a full disk, as a file-size limit (in-process, slow);
6. every numeric command-line option at and beyond its limits (in-process).

The contract everywhere: exit 0 with a complete folder, or one line on stderr and exit 2 (bad input),
1 (could not write) or 130 (interrupted); never a traceback or an ``internal error``, never a staging
folder (``.NAME.partial-*``, ``.NAME.old-*``) or lock file (``.NAME.lock``) left behind, never a user's
file lost. Seeds are fixed: every run of the suite tries the same cases.

Where each item of issue 19 is checked (this file's categories, and the regression test of each item):

1. a folder appearing at --out while writing: test_reliability.py::test_a_folder_that_appears_at_out_while_writing_is_never_deleted;
   category 4 (a user's folder at --out is never replaced)
2. two writers to one --out: test_reliability.py::test_a_second_command_writing_to_the_same_out_is_refused_naming_the_holder,
   ::test_wait_queues_behind_the_holder_and_then_writes; category 4
3. SIGINT/SIGTERM for every command: test_reliability.py::test_sigterm_stops_every_command_cleanly; category 3;
   test_a_signal_during_a_lazy_import_waits_for_the_import_and_then_interrupts (here);
   test_reliability.py::test_a_signal_during_the_interpreters_exit_keeps_the_commands_exit_status,
   ::test_a_signal_while_the_program_imports_its_command_line_is_one_line_and_130,
   ::test_a_signal_just_after_the_command_has_written_its_folder_changes_nothing,
   ::test_an_interruption_after_the_folder_is_in_place_says_so,
   ::test_an_interrupted_command_ends_although_a_thread_would_keep_python_waiting;
   test_output_safety.py::test_a_signal_just_after_the_staging_folder_is_made_leaves_nothing,
   ::test_a_signal_between_the_two_renames_of_a_forced_replacement_leaves_the_new_folder_whole
4. stale staging folders: test_reliability.py::test_stale_staging_folders_of_the_destination_are_removed_and_reported
5. strict whole numbers: test_bad_input.py::test_every_whole_number_field_of_every_section_refuses_loose_types
6. seed folders: test_bad_input.py::test_seed_folders_are_validated_like_scenario_files; category 2
7. no infinity or NaN: test_bad_input.py::test_economic_sizes_that_would_overflow_are_refused_up_front,
   test_regression_outputs.py::test_no_stored_output_holds_an_infinity_or_nan
8. open populations with no one in the window: test_capacity_model.py::test_no_patients_in_the_statistics_window_is_refused_by_every_command;
   category 1
9. a distribution for a single-value parameter: test_bad_input.py::test_a_distribution_for_a_single_value_parameter_is_refused_by_validate
10. destinations checked before any work: test_output_safety.py::test_every_command_refuses_a_bad_destination_before_any_work,
    ::test_calibrate_writes_through_a_staging_folder_and_replaces_only_with_force
11. full disk: test_reliability.py::test_a_file_size_limit_is_one_line_naming_the_path_and_nothing_half_written; category 5
12. limits on options: test_limits.py::test_every_command_line_option_is_bounded_before_any_work; category 6
13. the page's limits: the page's own tests (tests/test_app.py)
14. validate is the run's validation: test_limits.py::test_validate_reports_what_psa_would_refuse,
    ::test_psa_draws_outside_the_support_are_refused_by_validate_and_before_psa_runs
15. documented examples: test_docs_examples.py::test_yaml_example_validates, ::test_command_example_runs
16. no stray warnings: pyproject's filterwarnings (warnings from the package are errors in every test);
    test_report_figures.py::test_one_strategy_compare_prints_nothing_but_its_own_lines
"""

from __future__ import annotations

import copy
import math
import os
import random
import re
import shutil
import signal
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.capacity.arrivals import expected_arrivals
from simulator.capacity.run import ARRIVAL_LIMIT_SDS
from simulator.cli import main
from simulator.config import (
    MAX_ARRIVAL_YEARS,
    MAX_CATCHMENT,
    MAX_HORIZON_MONTHS,
    MAX_PATIENTS,
    MAX_RESOURCE_CAPACITY,
    MAX_SCHEDULE_SESSIONS,
    MAX_SIMULATED_LIFETIMES,
    RESOURCE_NAMES,
    load_scenario,
)
from simulator.experiments.runner import prepare

from .conftest import ROOT, tiny_scenario
from .processes import checkpoint, finish, hidden_leftovers, lock, staging, start

FUZZ_SETTINGS = {
    "derandomize": True,
    "database": None,
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
}


def one_line(err: str, status: int, expected_status: int = 2) -> str:
    lines = err.splitlines()
    assert status == expected_status, err
    assert len(lines) == 1 and re.match(r"nelm-sim( [a-z]+)?: error: ", lines[0]), err  # the parser names the command
    assert "Traceback" not in err and "internal error" not in err, err
    return lines[0]


def summary(name: str, stats: Counter) -> str:
    parts = ", ".join(f"{key} {value}" for key, value in sorted(stats.items()) if key != "cases")
    return f"\nfuzz {name}: {stats['cases']} cases: {parts}"


# --------------------------------------------------------------------------------------------
# 1. Capacity arrivals and resources at the edges

CAPACITY_BASE = tiny_scenario(name="edges", seed=5, cohort={"size": 1}, horizon_months=24, strategies=["surgery-first"])
RUN_BUDGET = 150  # expected arrivals of a file that is run: fast, but enough to fill queues
_PARAMS = None


def library_params():
    global _PARAMS  # noqa: PLW0603 - one parameter set for every case: the arrival rate depends only on it
    if _PARAMS is None:
        path = ROOT / "scenarios" / "capacity-constrained.yaml"
        _PARAMS = prepare(load_scenario(path), path).params
    return _PARAMS


def tiny_positive(upper: float) -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from([5e-324, 1e-300, 1e-9, 1e-3, upper, math.nextafter(upper, 0)]), st.floats(1e-9, upper))


@st.composite
def sessions(draw) -> list[dict]:
    count = draw(st.one_of(st.sampled_from([1, MAX_SCHEDULE_SESSIONS]), st.integers(1, 8)))
    day = st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"])
    start = st.one_of(st.sampled_from([0.0, math.nextafter(24.0, 0), 23.999]), st.floats(0, 23.99))
    hours = st.one_of(st.sampled_from([1e-6, 1 / 60, 168.0]), st.floats(0.01, 168))
    return [{"day": draw(day), "start": draw(start), "hours": draw(hours)} for _ in range(count)]


# One value just beyond a limit (or of the wrong kind), put in a valid file: (where, values).
CAPACITY_DEFECTS = [
    (("resources", "capacity"), [0, -1, MAX_RESOURCE_CAPACITY + 1, 2**70, 1.5, True, None]),
    (("resources", "schedule"), [[], [{"day": "mon", "start": 8, "hours": 1}] * (MAX_SCHEDULE_SESSIONS + 1)]),
    (("session", "start"), [24.0, -1e-9, math.inf, math.nan, "8am"]),
    (("session", "hours"), [0.0, -1.0, 168.0001, math.inf, 1e308]),
    (("session", "day"), ["monday", "", 1]),
    (("arrivals", "catchment_population"), [0, -5, MAX_CATCHMENT + 1, 10**30, 1e6, math.nan]),
    (("arrivals", "years"), [0.0, -1.0, MAX_ARRIVAL_YEARS * 1.0001, math.inf, math.nan]),
    (("arrivals", "warmup_years"), [-1e-9, MAX_ARRIVAL_YEARS + 1, math.inf, math.nan]),
]


@st.composite
def capacity_documents(draw) -> dict:
    doc = {**CAPACITY_BASE, "seed": draw(st.integers(0, 2**32))}
    doc["horizon_months"] = draw(st.one_of(st.sampled_from([1e-6, 0.01, 1, 60, MAX_HORIZON_MONTHS]), st.floats(0.01, 240)))
    if draw(st.integers(0, 3)) == 0:
        doc["strategies"] = draw(st.sampled_from([["surgery-first", "iat-first"], ["systemic-first"], ["guideline", "watch-and-wait"]]))
    resources = {}
    for name in draw(st.lists(st.sampled_from(RESOURCE_NAMES), unique=True, min_size=1, max_size=4)):
        resource = {"capacity": draw(st.one_of(st.sampled_from([1, 2, MAX_RESOURCE_CAPACITY]), st.integers(1, 50)))}
        if draw(st.booleans()):
            resource["schedule"] = draw(sessions())
        resources[name] = resource
    capacity: dict = {"resources": resources}
    if draw(st.integers(0, 4)) > 0:
        catchment = draw(st.one_of(st.sampled_from([1, 2, 1000, 10**6, 6 * 10**6, 10**8, MAX_CATCHMENT]), st.integers(1, MAX_CATCHMENT)))
        years = draw(st.one_of(st.sampled_from([1e-9, 1e-3, 1.0, 5.0, MAX_ARRIVAL_YEARS]), st.floats(1e-3, 20)))
        warmup = draw(st.one_of(st.sampled_from([0.0, 1e-9, 1.0, MAX_ARRIVAL_YEARS]), st.floats(0, 5)))
        capacity["arrivals"] = {"catchment_population": catchment, "years": years, "warmup_years": warmup}
        fit_to_budget(capacity["arrivals"], len(doc["strategies"]))
    doc["capacity"] = capacity
    if draw(st.integers(0, 2)) == 0:  # a third of the files get one value beyond a limit
        (where, key), values = draw(st.sampled_from(CAPACITY_DEFECTS))
        value = draw(st.sampled_from(values))
        if where == "arrivals":
            capacity.setdefault("arrivals", {"catchment_population": 1000, "years": 1.0})[key] = value
        else:
            resource = resources[draw(st.sampled_from(sorted(resources)))]
            if where == "resources":
                resource[key] = value
            else:
                resource.setdefault("schedule", [{"day": "mon", "start": 8, "hours": 1}])
                resource["schedule"][draw(st.integers(0, len(resource["schedule"]) - 1))][key] = value
    return doc


def fit_to_budget(arrivals: dict, strategies: int) -> None:
    """A valid rate whose cohort is within the limits but too large to run in a test is scaled down (shorter
    years and warm-up, same catchment) to about RUN_BUDGET arrivals; rates past the limits are left alone:
    they must be refused before anything runs."""
    catchment, years, warmup = arrivals["catchment_population"], arrivals["years"], arrivals["warmup_years"]
    if not (1 <= catchment <= MAX_CATCHMENT and 0 < years <= MAX_ARRIVAL_YEARS and 0 <= warmup <= MAX_ARRIVAL_YEARS):
        return
    mean = expected_arrivals(library_params(), catchment, (years + warmup) * 12)
    high = mean + ARRIVAL_LIMIT_SDS * math.sqrt(mean)
    if mean <= RUN_BUDGET or high > MAX_PATIENTS or high * strategies > MAX_SIMULATED_LIFETIMES:
        return
    factor = RUN_BUDGET / mean
    arrivals["years"], arrivals["warmup_years"] = years * factor, warmup * factor


def check_capacity_case(doc: dict, folder: Path, capsys, stats: Counter, summary_mode: int) -> None:
    path = folder / "case.yaml"
    out = folder / "out"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    stats["cases"] += 1
    status = main(["validate", str(path)])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    if status != 0:
        line = one_line(err, status)
        assert str(path) in line, line
        field = line.split(f"{path}: ", 1)[1].split(":", 1)[0]
        label = field.split(".")[-1] if field.startswith("capacity") else "YAML" if field.startswith("line ") else field
        stats[f"refused: {label}"] += 1
        assert sorted(p.name for p in folder.iterdir()) == ["case.yaml"]
        return
    args = ["run", str(path), "--out", str(out), "--workers", "1", "--quiet"] + ["--summary"] * bool(summary_mode)
    status = main(args)
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out and "internal error" not in captured.err, captured.err
    assert status == 0, ("validated, then", status, captured.err)
    assert (out / "manifest.json").is_file() and (out / "summary.csv").is_file()
    assert hidden_leftovers(folder) == []
    stats["ran --summary" if summary_mode else "ran"] += 1
    shutil.rmtree(out)


def run_capacity_fuzz(tmp_path: Path, capsys, examples: int) -> Counter:
    folder = tmp_path / "work"
    folder.mkdir()
    stats: Counter = Counter()

    @settings(max_examples=examples, **FUZZ_SETTINGS)
    @given(doc=capacity_documents())
    def fuzz(doc):
        summary_mode = stats["cases"] % 2  # every other file runs in summary mode
        for leftover in folder.iterdir():
            shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        check_capacity_case(doc, folder, capsys, stats, summary_mode)

    fuzz()
    return stats


def test_fuzz_capacity_edges_quick(tmp_path, capsys):
    stats = run_capacity_fuzz(tmp_path, capsys, examples=4)
    with capsys.disabled():
        print(summary("capacity (quick)", stats))
    assert stats["cases"] == 4


@pytest.mark.slow
def test_fuzz_capacity_edges(tmp_path, capsys):
    # 50 cases keep the whole suite within its 10 minutes on two cores; each outcome must still be
    # reached at least a tenth of the time (the cases are split between refusals and both run modes).
    examples = 50
    stats = run_capacity_fuzz(tmp_path, capsys, examples=examples)
    with capsys.disabled():
        print(summary("capacity", stats))
    refused = sum(v for k, v in stats.items() if k.startswith("refused"))
    assert refused >= examples // 5 and stats["ran"] >= examples // 10 and stats["ran --summary"] >= examples // 10


# --------------------------------------------------------------------------------------------
# 2. Seed folders

SEED_DIR = ROOT / "scenarios" / "seed"
SEED_KINDS = (
    "duplicate_name",
    "missing_arm",
    "bad_yaml",
    "empty_folder",
    "unknown_key",
    "file_removed",
    "target_scenario_renamed",
    "not_a_folder",
    "invalid_value",
)


def corrupt_seed_folder(rng: random.Random, kind: str, folder: Path) -> Path:
    """Corrupt a copy of scenarios/seed/ in ``folder``; returns the path the error line must name."""
    shutil.copytree(SEED_DIR, folder)
    files = sorted(folder.glob("*.yaml"))
    victim = rng.choice(files)
    data = yaml.safe_load(victim.read_text(encoding="utf-8"))
    if kind == "duplicate_name":
        copy = folder / f"zz-copy-{rng.randrange(1000)}.yaml"
        copy.write_text(victim.read_text(encoding="utf-8"), encoding="utf-8")
        return copy
    if kind == "missing_arm":
        index = rng.randrange(len(data["strategies"]))
        strategy = data["strategies"][index]
        renamed = {"name": f"renamed-{rng.randrange(1000)}", "rules": [{"treatment": "best_supportive_care"}]}
        if isinstance(strategy, dict):
            renamed = {**strategy, "name": renamed["name"]}
        data["strategies"][index] = renamed
        victim.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return victim
    if kind == "bad_yaml":
        text = victim.read_text(encoding="utf-8")
        cut = rng.randrange(len(text))
        victim.write_text(
            text[:cut] + rng.choice(["\n  - : [", "\t{", ": : :", "\n!!python/object:os.system x\n", "\x00"]), encoding="utf-8"
        )
        return victim
    if kind == "empty_folder":
        for path in files:
            path.unlink()
        return folder
    if kind == "unknown_key":
        target = rng.choice([data, data["cohort"]])
        target[rng.choice(["colour", "sise", "stratgies", "nme"])] = 1
        victim.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return victim
    if kind == "file_removed":  # every seed scenario is some target's: the targets file names the missing one
        victim.unlink()
        return ROOT / "simulator" / "params" / "calibration_targets.yaml"
    if kind == "target_scenario_renamed":
        data["name"] = f"{data['name']}-renamed"
        victim.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
        return ROOT / "simulator" / "params" / "calibration_targets.yaml"
    if kind == "not_a_folder":
        shutil.rmtree(folder)
        folder.write_text("a file, not a folder\n", encoding="utf-8")
        return folder
    assert kind == "invalid_value"
    field = rng.choice(["horizon_months", "seed", "replications"])
    data[field] = rng.choice([-1, "ten", None, math.nan] + [0] * (field != "seed"))  # seed 0 is a seed
    victim.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return victim


def run_seed_fuzz(tmp_path: Path, capsys, monkeypatch, per_kind: int) -> Counter:
    rng = random.Random(19)
    monkeypatch.chdir(tmp_path)  # a default output folder would appear here
    stats: Counter = Counter()
    for kind in SEED_KINDS:
        for index in range(per_kind):
            work = tmp_path / f"{kind}-{index}"
            work.mkdir()
            seeds = work / "seed"
            named = corrupt_seed_folder(rng, kind, seeds)
            before = sorted(p.name for p in work.rglob("*"))
            command = rng.choice(["calibrate", "reproduce"])
            out = work / "out"
            args = [command, "--seed-dir", str(seeds), "--patients", "20", "--out", str(out), "--workers", "1", "--quiet"]
            if command == "calibrate":
                args.insert(1, "--check")
            status = main(args)
            captured = capsys.readouterr()
            assert "Traceback" not in captured.out, captured.out
            assert status == 2, (kind, command, named, captured.err)
            line = one_line(captured.err, status)
            assert str(named) in line, (kind, named, line)
            assert not out.exists() and sorted(p.name for p in work.rglob("*")) == before, (kind, command)
            assert not (tmp_path / "outputs").exists()
            stats["cases"] += 1
            stats[f"{command} refused"] += 1
            stats[f"kind:{kind}"] += 1
    return stats


def test_fuzz_seed_folders_quick(tmp_path, capsys, monkeypatch, yaml_parsed_once):
    stats = run_seed_fuzz(tmp_path, capsys, monkeypatch, per_kind=1)
    with capsys.disabled():
        print(summary("seed folders (quick)", stats))


@pytest.mark.slow
def test_fuzz_seed_folders(tmp_path, capsys, monkeypatch, yaml_parsed_once):
    stats = run_seed_fuzz(tmp_path, capsys, monkeypatch, per_kind=8)
    with capsys.disabled():
        print(summary("seed folders", stats))
    assert stats["cases"] == 8 * len(SEED_KINDS)


# --------------------------------------------------------------------------------------------
# Subprocess scenarios: small, but each command lasts long enough (a few seconds) to be caught in
# every phase: starting, holding the destination, simulating, writing the staging folder, renaming.

SUBPROCESS_SCENARIO = tiny_scenario(cohort={"size": 150}, replications=2, economics={"ceac_wtp_points": 11})
VARIANTS_SCENARIO = tiny_scenario(cohort={"size": 100}, variants=[{"name": "older", "cohort": {"age": 75}}])
SMALL_CENTRE_SCENARIO = tiny_scenario(
    name="small-centre",
    cohort={"size": 1},
    horizon_months=60,
    strategies=["surgery-first"],
    capacity={
        "arrivals": {"catchment_population": 1_000_000, "years": 1.5, "warmup_years": 0.5},
        "resources": {"theatre": {"capacity": 1, "schedule": [{"day": "tue", "start": 8, "hours": 2}]}},
    },
)


@pytest.fixture(scope="module")
def subprocess_files(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("commands")
    files = {}
    for key, data in (("tiny", SUBPROCESS_SCENARIO), ("variants", VARIANTS_SCENARIO), ("capacity", SMALL_CENTRE_SCENARIO)):
        files[key] = folder / f"{key}.yaml"
        files[key].write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return files


def command_arguments(command: str, files: dict[str, Path], out: Path, workers: int) -> list[str]:
    """A small run of ``command`` writing ``out``."""
    quick = ["--quiet", "--out", str(out)]
    if command == "run":
        return ["run", str(files["tiny"]), "--workers", str(workers), *quick]
    if command == "compare":
        return ["compare", str(files["tiny"]), "--workers", str(workers), *quick]
    if command == "scenarios":
        return ["scenarios", str(files["variants"]), "--workers", str(workers), *quick]
    if command == "psa":
        return ["psa", str(files["tiny"]), "--draws", "8", "--patients", "30", "--workers", str(workers), *quick]
    if command == "dsa":
        # Economic parameters only: re-valuing one base run keeps the command short; what is fuzzed here is
        # its handling of signals and output folders, not the clinical re-simulations (tests/test_dsa.py).
        return [
            "dsa",
            str(files["tiny"]),
            "--patients",
            "20",
            "--replications",
            "1",
            "--parameters",
            "economic",
            "--workers",
            str(workers),
            *quick,
        ]
    if command == "capacity":
        return ["capacity", str(files["capacity"]), "--resource", "theatre", "--target-p90-wait", "20", "--max-capacity", "3", *quick]
    assert command == "calibrate"
    seeds = str(ROOT / "scenarios" / "seed")
    return ["calibrate", "--check", "--seed-dir", seeds, "--patients", "20", "--workers", str(workers), *quick]


FINISHED = {"calibrate": {0, 1}}  # calibrate exits 1 when a target fails (20 patients per arm: some do)


def complete(command: str, out: Path) -> bool:
    if command == "calibrate":
        return (out / "calibration.csv").is_file()
    return (out / "manifest.json").is_file() and (out / ".nelm-sim-output").is_file()


# --------------------------------------------------------------------------------------------
# 3. Signals in every phase

SIGNAL_COMMANDS = ("run", "compare", "scenarios", "psa", "dsa", "capacity", "calibrate")


def phase_of(out: Path, process) -> str:
    if process.poll() is not None:
        return "after the end"
    if staging(out):
        return "writing"
    if lock(out).exists():
        return "holding the destination"
    return "starting"


def interrupt_once(command: str, files: dict[str, Path], folder: Path, delay: float, stop: signal.Signals, workers: int) -> dict:
    """Start ``command``, send ``stop`` after ``delay`` seconds, and check what it did and left."""
    folder.mkdir()
    out = folder / "out"
    process = start(command_arguments(command, files, out, workers), folder)
    time.sleep(delay)
    phase = phase_of(out, process)
    if process.poll() is None:
        process.send_signal(stop)
    done = finish(process)
    context = (command, stop.name, f"{delay:.2f} s", phase, done.returncode, done.stderr)
    if killed_while_starting(done, out, folder):
        return {"outcome": "killed while the interpreter started", "phase": phase}
    if interrupted_while_the_interpreter_started(done):
        if done.returncode in FINISHED.get(command, {0}):  # Python ignored it and the program ran on
            assert complete(command, out), context
            return {"outcome": "finished after Python ignored a SIGINT as it started", "phase": phase}
        assert done.returncode in (1, -signal.SIGINT), context
        assert not out.exists() and hidden_leftovers(folder) == [], context
        return {"outcome": "SIGINT while the interpreter started", "phase": phase}
    assert "Traceback" not in done.stderr + done.stdout, context
    assert hidden_leftovers(folder) == [], (context, hidden_leftovers(folder))
    if command != "psa":
        assert not checkpoint(out).exists(), context
    assert not out.exists() or complete(command, out), context  # a folder is whole or absent
    assert "internal error" not in done.stderr, context
    if done.returncode in FINISHED.get(command, {0}):
        assert complete(command, out), context
        return {"outcome": "finished", "phase": phase}
    assert done.returncode == 130, context
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("nelm-sim: interrupted"), context
    if out.exists():  # interrupted after the folder was renamed into place: it is whole
        return {"outcome": "130 after the folder was written", "phase": phase}
    return {"outcome": "130", "phase": phase}


def killed_while_starting(done, out: Path, folder: Path) -> bool:
    """A SIGTERM that arrives while the interpreter starts, before nelm-sim's first line runs, ends the
    process as it ends any program (-15, nothing printed); so does a SIGINT in the first milliseconds,
    before Python has installed its own SIGINT handler (-2, nothing printed). Nothing has been written
    yet, which is checked."""
    killed = done.returncode in (-signal.SIGTERM, -signal.SIGINT)
    return killed and not done.stderr and not out.exists() and hidden_leftovers(folder) == []


def interrupted_while_the_interpreter_started(done) -> bool:
    """A SIGINT in the first milliseconds, while Python itself starts (its site module and the .pth files,
    runpy finding the package), raises KeyboardInterrupt before any nelm-sim line can install a handler,
    and Python reports it as it does for any program: a traceback (at times "Fatal Python error:
    init_import_site"), or "Exception ignored" when it landed in an import lock's callback, after which the
    program runs on. Recognised only when no frame is in nelm-sim's own code: a frame there
    (``simulator/__init__.py`` importing importlib.metadata, seen by this fuzzer) means the program's own
    start could be interrupted with a traceback, which is a bug."""
    own_code = str(ROOT / "simulator")
    frames = [line for line in done.stderr.splitlines() if line.lstrip().startswith("File ")]
    return "KeyboardInterrupt" in done.stderr and bool(frames) and not any(own_code in frame for frame in frames)


def run_signal_fuzz(tmp_path: Path, files: dict[str, Path], per_command: int) -> Counter:
    rng = random.Random(1919)
    stats: Counter = Counter()
    durations = {}
    with ThreadPoolExecutor(max_workers=2) as pool:  # two at a time on two cores
        timed = {}
        for command in SIGNAL_COMMANDS:
            timed[command] = pool.submit(time_uninterrupted, command, files, tmp_path / f"{command}-uninterrupted")
        durations = {command: future.result() for command, future in timed.items()}
        stats.update({"cases": len(durations), "finished": len(durations), "sent while never": len(durations)})
        jobs = []
        for command in SIGNAL_COMMANDS:
            for index in range(per_command):
                delay = rng.uniform(0, 1.1 * durations[command])  # from the start to (just past) the end
                stop = rng.choice([signal.SIGINT, signal.SIGTERM])
                folder = tmp_path / f"{command}-{index}"
                jobs.append(pool.submit(interrupt_once, command, files, folder, delay, stop, rng.choice([1, 2])))
        for job in jobs:
            result = job.result()
            stats["cases"] += 1
            stats[result["outcome"]] += 1
            stats[f"sent while {result['phase']}"] += 1
    return stats


def time_uninterrupted(command: str, files: dict[str, Path], folder: Path) -> float:
    folder.mkdir()
    out = folder / "out"
    began = time.monotonic()
    done = finish(start(command_arguments(command, files, out, 1), folder))
    assert done.returncode in FINISHED.get(command, {0}), (command, done.stderr)
    assert complete(command, out) and hidden_leftovers(folder) == [], command
    return time.monotonic() - began


@pytest.mark.slow
def test_fuzz_signals_in_every_phase(tmp_path, subprocess_files, capsys):
    # Two signals per command (at random delays, SIGINT or SIGTERM, one or two workers) after the timing run:
    # the whole suite stays within its 10 minutes on two cores.
    stats = run_signal_fuzz(tmp_path, subprocess_files, per_command=2)
    with capsys.disabled():
        print(summary("signals", stats))
    assert stats["130"] >= len(SIGNAL_COMMANDS)


EXTENSION_STAND_IN = """
import os
import signal

try:
    os.kill(os.getpid(), {signum})
    for _ in range(100_000):  # bytecode, where Python runs a signal handler
        pass
except KeyboardInterrupt:
    raise ImportError("initialization failed") from None  # as a C extension reports an interrupted initialisation
INITIALISED = True
"""


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_lazy_import_waits_for_the_import_and_then_interrupts(
    stop, monkeypatch, tmp_path, capsys, interrupt_as_a_user_has
):
    """Seen by the signal fuzzer: a SIGINT or SIGTERM that landed while a command imported a C extension
    (numpy, pandas, ...) became `ImportError: initialization failed`, and the user got `internal error`
    and exit status 1 instead of `interrupted` and 130. The signal now waits for the import to end. Without
    timing: the command imports a module that signals its own process while it initialises, and fails as
    an extension does if the signal interrupts it; the command then waits, and the interruption ends it."""
    import importlib
    import sys

    import simulator.commands.run as run_command

    name = f"extension_stand_in_{stop.name.lower()}"
    (tmp_path / f"{name}.py").write_text(EXTENSION_STAND_IN.format(signum=int(stop)), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    imported = []
    slept_through = []

    def import_then_work(*args, **kwargs):
        imported.append(importlib.import_module(name))
        time.sleep(10)  # only the interruption ends this early (it lands within milliseconds: io.IMPORT_POLL_SECONDS)
        slept_through.append(True)  # the signal waited for the command instead of the import

    monkeypatch.setattr(run_command, "run_file", import_then_work)
    try:
        status = main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--out", str(tmp_path / "out")])
    finally:
        sys.modules.pop(name, None)
    err = capsys.readouterr().err
    assert status == 130 and err.startswith("nelm-sim: interrupted") and len(err.splitlines()) == 1, err
    assert imported and imported[0].INITIALISED  # the import finished whole
    assert not slept_through
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------------------------
# 5. Full disk: a file-size limit (RLIMIT_FSIZE). A small filesystem would need root to mount; a write
# past the limit fails with EFBIG ("File too large") as a full disk fails with ENOSPC, at any file. The
# commands run in this process (only the soft limit is lowered, and raised again after each case): what
# is tried is how a command meets a failed write, which needs no process of its own (the subprocess
# version, run and psa, is test_reliability.py's test_a_file_size_limit_is_one_line_...).

DISK_COMMANDS = ("run", "compare", "psa", "scenarios")
DISK_LIMITS = (2_000, 30_000, 400_000, 50_000_000)  # bytes per file: a few KB to past every output


def disk_once(command: str, files: dict[str, Path], folder: Path, limit: int, capsys) -> str:
    import resource

    folder.mkdir()
    out = folder / "out"
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        status = main(command_arguments(command, files, out, 1))
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    captured = capsys.readouterr()
    context = (command, limit, status, captured.err)
    assert "Traceback" not in captured.err + captured.out and "internal error" not in captured.err, context
    assert hidden_leftovers(folder) == [], (context, hidden_leftovers(folder))
    if status == 0:
        assert complete(command, out), context
        return "exit 0, complete folder"
    line = one_line(captured.err, status, 1)
    assert "could not write (File too large)" in line and str(folder) in line, context
    assert not out.exists(), context
    return "exit 1, one line naming the path"


@pytest.mark.slow
def test_fuzz_full_disk(tmp_path, subprocess_files, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    stats: Counter = Counter()
    for command in DISK_COMMANDS:
        for limit in DISK_LIMITS:
            stats["cases"] += 1
            stats[disk_once(command, subprocess_files, tmp_path / f"{command}-{limit}", limit, capsys)] += 1
    with capsys.disabled():
        print(summary("full disk", stats))
    assert stats["exit 0, complete folder"] >= len(DISK_COMMANDS) and stats["exit 1, one line naming the path"] >= len(DISK_COMMANDS)


# --------------------------------------------------------------------------------------------
# 4. Concurrent writers: several commands to the same --out at once, some with --force or --wait.

WRITER_COMMANDS = ("run", "compare", "psa", "dsa", "scenarios")
# The CSVs of each command's folder (of the small runs above): a folder holds exactly one command's.
CSVS_OF = {
    "run": {"economics.csv", "icer.csv", "patients.csv", "summary.csv", "survival.csv"},
    "compare": {
        "comparison.csv",
        "economics.csv",
        "icer.csv",
        "patients.csv",
        "replications.csv",
        "state_occupancy.csv",
        "symptom_control.csv",
    },
    "psa": {
        "ceac.csv",
        "evpi.csv",
        "evppi.csv",
        "icer.csv",
        "psa.csv",
        "psa_decision.csv",
        "psa_costs.csv",
        "psa_effects.csv",
        "psa_parameters.csv",
        "psa_strategies.csv",
        "psa_summary.csv",
    },
    "dsa": {"dsa.csv", "economics.csv", "icer.csv", "tornado.csv"},
    "scenarios": {"comparison.csv", "economics.csv", "icer.csv", "scenarios.csv", "survival.csv", "variants.csv"},
}


def writers_once(rng: random.Random, files: dict[str, Path], folder: Path, user_folder: bool) -> Counter:
    folder.mkdir()
    out = folder / "shared"
    stats: Counter = Counter()
    if user_folder:  # a user's own folder at --out: never replaced, whatever the flags
        out.mkdir()
        (out / "thesis.txt").write_text("precious", encoding="utf-8")
    writers = []
    for _ in range(rng.choice([3, 4])):
        command = rng.choice(WRITER_COMMANDS)
        extra = ["--force"] * (rng.random() < 0.5) + ["--wait"] * (rng.random() < 0.5)
        writers.append((command, extra, start([*command_arguments(command, files, out, 1), *extra], folder)))
        time.sleep(rng.uniform(0, 0.5))
    results = [(command, extra, finish(process)) for command, extra, process in writers]
    wrote = []
    for command, extra, done in results:
        context = (command, extra, done.returncode, done.stderr)
        assert "Traceback" not in done.stderr + done.stdout and "internal error" not in done.stderr, context
        if done.returncode == 0:
            wrote.append(command)
            stats["wrote"] += 1
            continue
        line = one_line(done.stderr, done.returncode)
        assert str(out) in line, context
        if "holds it" in line:
            assert "--wait" not in extra and "pid " in line, context  # names the holder
            stats["refused: busy, naming the holder"] += 1
        else:
            stats["refused: folder exists or is not ours"] += 1
    assert hidden_leftovers(folder) == [], hidden_leftovers(folder)
    if user_folder:
        assert (out / "thesis.txt").read_text(encoding="utf-8") == "precious" and not wrote
        stats["user folder kept"] += 1
    else:
        # Whichever command holds the empty destination first writes it; the rest may all be refused.
        assert wrote, [(command, extra, done.returncode, done.stderr) for command, extra, done in results]
        manifest = yaml.safe_load((out / "manifest.json").read_text(encoding="utf-8"))
        last = manifest["command_line"][1]  # ["nelm-sim", COMMAND, ...]
        assert last in wrote, (last, wrote)
        assert {p.name for p in out.glob("*.csv")} == CSVS_OF[last], (last, sorted(os.listdir(out)))  # that command's, whole
    return stats


@pytest.mark.slow
def test_fuzz_concurrent_writers(tmp_path, subprocess_files, capsys):
    rng = random.Random(2019)
    stats: Counter = Counter()
    rounds = 4  # four keep the whole suite within its 10 minutes on two cores
    for index in range(rounds):
        # The first round always has a user's folder at --out, so that a short run still tries it; then 30% of rounds.
        user_folder = index == 0 or rng.random() < 0.3
        stats.update(writers_once(rng, subprocess_files, tmp_path / f"round-{index}", user_folder))
        stats["cases"] += 1
    with capsys.disabled():
        print(summary("concurrent writers", stats))
    # Every round without a user's folder wrote (writers_once).
    assert stats["user folder kept"] >= 1 and stats["wrote"] >= rounds - stats["user folder kept"]
    assert stats["refused: busy, naming the holder"] >= 1


# --------------------------------------------------------------------------------------------
# 6. Every numeric command-line option at and beyond its limits. The options and their types come from
# the parser itself (simulator.cli.build_parser), the limits from the MAX_* constants the commands check. A value past a
# limit is refused in one line with exit status 2 before anything is simulated (a guard fails the case if
# the simulation starts); a value within the limits is accepted by the parser.

import simulator.config as config_module  # noqa: E402 - the limits are read where this category starts
from simulator.cli import build_parser  # noqa: E402
from simulator.experiments.calibrate import MAX_EVALUATIONS, MAX_LATIN_HYPERCUBE  # noqa: E402
from simulator.experiments.capacity_search import MAX_CAPACITY_STEPS, MAX_TARGET_WAIT_DAYS, SessionConfig, most_sessions  # noqa: E402
from simulator.io import read_yaml  # noqa: E402

CAPACITY_FILE = ROOT / "scenarios" / "capacity-constrained.yaml"
# --min-sessions/--max-sessions: the most sessions a week the search can build from the resource's schedule
THEATRE_SESSIONS = most_sessions(
    [SessionConfig.model_validate(s) for s in read_yaml(CAPACITY_FILE)["capacity"]["resources"]["theatre"]["schedule"]]
)
from simulator.commands import posterior as posterior_command  # noqa: E402
from simulator.experiments.compare import PRECISION_MIN_REPLICATIONS  # noqa: E402
from simulator.experiments.execution import MAX_WORKERS  # noqa: E402

# option -> its upper limit, read from the constants the commands check (never a copied number)
OPTION_LIMITS: dict[str, float | None] = {
    "--patients": config_module.MAX_PATIENTS,
    "--fit-patients": config_module.MAX_PATIENTS,
    "--replications": config_module.MAX_REPLICATIONS,
    "--max-replications": config_module.MAX_REPLICATIONS,
    "--draws": config_module.MAX_PSA_DRAWS,
    "--seed": config_module.MAX_SEED,
    "--min-capacity": config_module.MAX_RESOURCE_CAPACITY,
    "--max-capacity": config_module.MAX_RESOURCE_CAPACITY,
    "--wtp": config_module.MAX_WILLINGNESS_TO_PAY,
    "--workers": MAX_WORKERS,
    "--target-p90-wait": MAX_TARGET_WAIT_DAYS,
    "--max-evaluations": MAX_EVALUATIONS,
    "--latin-hypercube": MAX_LATIN_HYPERCUBE,
    "--min-sessions": THEATRE_SESSIONS,
    "--max-sessions": THEATRE_SESSIONS,
    "--precision": None,  # a relative precision: 0 < P < 1
    "--posterior-patients": config_module.MAX_PATIENTS,
    "--design-points": posterior_command.MAX_DESIGN_POINTS,
    "--waves": posterior_command.MAX_WAVES,
    "--posterior-samples": posterior_command.MAX_POSTERIOR_SAMPLES,
    "--prior-draws": posterior_command.MAX_PRIOR_DRAWS,
}
LOWEST = {
    "--max-replications": PRECISION_MIN_REPLICATIONS,
    "--design-points": posterior_command.MIN_DESIGN_POINTS,
    "--posterior-samples": posterior_command.MIN_POSTERIOR_SAMPLES,
    "--prior-draws": posterior_command.MIN_PRIOR_DRAWS,
}  # lower limits other than the type's
BASE_ARGUMENTS = {
    "run": ["scenarios/baseline.yaml"],
    "compare": ["scenarios/baseline.yaml"],
    "scenarios": ["scenarios/population-variants.yaml"],
    "psa": ["scenarios/baseline.yaml"],
    "dsa": ["scenarios/baseline.yaml"],
    "capacity": ["scenarios/capacity-constrained.yaml", "--resource", "theatre", "--target-p90-wait", "30"],
    "calibrate": ["--check"],
    "reproduce": [],
}
FIT_ONLY = {"--fit-patients", "--max-evaluations", "--latin-hypercube"}  # calibrate without --check
POSTERIOR_ONLY = {"--posterior-patients", "--design-points", "--waves", "--posterior-samples", "--prior-draws"}  # calibrate --posterior


class SimulationStarted(BaseException):  # noqa: N818 - not an Exception: the CLI's catch-all must not swallow it
    pass


def lifetimes_limit(paths) -> int:
    """The largest cohort every scenario of ``paths`` may simulate in one run (MAX_SIMULATED_LIFETIMES in all)."""
    sizes = []
    for path in paths:
        doc = read_yaml(path)
        sizes.append(config_module.MAX_SIMULATED_LIFETIMES // (int(doc.get("replications", 1)) * len(doc["strategies"])))
    return min(sizes)


def psa_patients_limit(path: Path) -> int:
    """The largest PSA cohort: MAX_SIMULATED_LIFETIMES in a draw, MAX_PSA_LIFETIMES over the file's draws."""
    doc = read_yaml(path)
    strategies = len(doc["strategies"])
    draws = int(config_module.EconomicsConfig.model_validate(doc.get("economics", {})).psa_draws)
    return min(config_module.MAX_SIMULATED_LIFETIMES // strategies, config_module.MAX_PSA_LIFETIMES // (draws * strategies))


SEED_FILES = sorted((ROOT / "scenarios" / "seed").glob("*.yaml"))
VALIDATION_FILES = sorted((ROOT / "scenarios" / "validation").glob("*.yaml"))
# Cohort limits that depend on the command: a PSA draw and each seed scenario keep their event log in memory
COMMAND_LIMITS: dict[tuple[str, str], float] = {
    ("psa", "--patients"): psa_patients_limit(ROOT / "scenarios" / "baseline.yaml"),
    ("calibrate", "--patients"): lifetimes_limit(SEED_FILES),
    ("calibrate", "--fit-patients"): lifetimes_limit(SEED_FILES),
    ("calibrate", "--posterior-patients"): lifetimes_limit(SEED_FILES),
    ("reproduce", "--patients"): lifetimes_limit(SEED_FILES + VALIDATION_FILES),
}


def limit_of(command: str, option: str) -> float | None:
    """The option's upper limit for this command (read from the constants the command checks)."""
    return COMMAND_LIMITS.get((command, option), OPTION_LIMITS[option])


def numeric_options():
    """(command, option, is a float, lowest accepted value) of every numeric option of every command."""
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command, subparser in commands.items():
        for action in subparser._actions:
            kind = getattr(action.type, "__name__", "")
            if not action.option_strings or kind not in (
                "_positive_int",
                "_non_negative_int",
                "_non_negative_float",
                "_relative_precision",
            ):
                continue
            lowest = {"_positive_int": 1, "_non_negative_int": 0, "_non_negative_float": 0.0, "_relative_precision": None}[kind]
            option = action.option_strings[0]
            yield command, option, kind in ("_non_negative_float", "_relative_precision"), LOWEST.get(option, lowest)


def option_cases():
    for command, option, is_float, lowest in numeric_options():
        limit = limit_of(command, option)
        huge = "1e300" if is_float else str(10**30)
        values = {"zero": "0", "one": "1", "negative": "-1", "not a number": "ten", "nan": "nan", "inf": "inf", "huge": huge}
        if limit is not None and option != "--precision":
            values["limit"] = f"{limit:g}" if is_float else str(int(limit))
            values["limit+1"] = f"{limit * 1.001:g}" if is_float else str(int(limit) + 1)
        for label, text in values.items():
            value: float | int | None = None if label == "not a number" else float(text)
            if not is_float and label not in ("not a number", "nan", "inf"):
                value = int(text)  # exact: 2**63 - 1 is not a float
            if option == "--precision":
                accepted = value is not None and 0 < value < 1
            else:
                accepted = value is not None and math.isfinite(value) and value >= (lowest or 0) and (limit is None or value <= limit)
                accepted = accepted and (is_float or label not in ("nan", "inf"))
                if label == "huge" and limit is None:
                    accepted = False  # every number has some limit: the huge one is past it
            yield pytest.param(command, option, text, accepted, id=f"{command} {option} {label}")


OPTION_CASES = list(option_cases())


def option_arguments(command: str, option: str, text: str, tmp_path: Path) -> list[str]:
    parser = build_parser()
    accepted = {o for a in parser._subparsers._group_actions[0].choices[command]._actions for o in a.option_strings}  # type: ignore[union-attr]
    base = [str(ROOT / w) if w.startswith("scenarios/") else w for w in BASE_ARGUMENTS[command]]
    if command == "calibrate" and option in FIT_ONLY:
        base = []
    if command == "calibrate" and option in POSTERIOR_ONLY:
        base = ["--posterior", "--library-dir", str(tmp_path)]
    if option == "--target-p90-wait":
        base = base[:3]
    words = [command, *base, f"{option}={text}"]
    if option == "--max-replications":
        words.append("--precision=0.05")
    if option == "--patients" and "--replications" in accepted:
        words.append("--replications=1")  # the cohort at its limit, within the total-work limit
    if option in ("--min-sessions", "--max-sessions"):
        words += ["--vary", "sessions"]
    if option == "--min-sessions":
        words.append(f"--max-sessions={THEATRE_SESSIONS}")
    bound = config_module.MAX_RESOURCE_CAPACITY
    number = int(text) if text.lstrip("-").isdigit() else None
    if option == "--min-capacity":  # the other end within MAX_CAPACITY_STEPS capacities, where it can be
        words.append(f"--max-capacity={bound if number is None else min(max(number, 1) + MAX_CAPACITY_STEPS - 1, bound)}")
    if option == "--max-capacity" and number is not None and number >= 1:
        words.append(f"--min-capacity={max(1, min(number, bound) - MAX_CAPACITY_STEPS + 1)}")
    if "--out" in accepted:
        words += ["--out", str(tmp_path / "out")]
    if "--seed-dir" in accepted:
        words += ["--seed-dir", str(ROOT / "scenarios" / "seed")]
    if "--workers" in accepted and option != "--workers":
        words += ["--workers", "1"]
    return words


def test_every_numeric_option_is_covered():
    options = {option for _, option, _, _ in numeric_options()}
    assert options <= set(OPTION_LIMITS), options - set(OPTION_LIMITS)
    assert len(OPTION_CASES) >= 200


_PARSED: dict[tuple, object] = {}


@pytest.fixture
def yaml_parsed_once(monkeypatch):
    """Each file parsed once for the whole category, then handed out as a copy: a command re-reads the
    bundled strategy library at every scenario it prepares, and calibrate reads each seed scenario more
    than once; the parse is not what these cases try, and it was most of their time. A file is known by
    its path, size and modification time, so a changed one is parsed again."""
    import simulator.io as io_module

    real = io_module.read_yaml

    def read_once(path, what="scenario"):
        try:
            stat = Path(path).stat()
        except OSError:
            return real(path, what)
        key = (os.path.abspath(path), what, stat.st_size, stat.st_mtime_ns)
        if key not in _PARSED:
            _PARSED[key] = real(path, what)  # an error is raised each time, never kept
        return copy.deepcopy(_PARSED[key])

    for module in list(sys.modules.values()):  # every module that imported it by name; later imports find io's
        if getattr(module, "__name__", "").startswith("simulator") and getattr(module, "read_yaml", None) is real:
            monkeypatch.setattr(module, "read_yaml", read_once)


@pytest.mark.parametrize(("command", "option", "text", "accepted"), OPTION_CASES)
def test_option_at_and_beyond_its_limits(command, option, text, accepted, tmp_path, capsys, monkeypatch, yaml_parsed_once):
    import simulator.engine.model
    from simulator.experiments.execution import Execution

    def refuse(*args, **kwargs):
        raise SimulationStarted

    monkeypatch.setattr(simulator.engine.model.PathwayModel, "run", refuse)
    monkeypatch.setattr(Execution, "map", refuse)
    monkeypatch.chdir(tmp_path)
    words = option_arguments(command, option, text, tmp_path)
    try:
        status = main(words)
    except SystemExit as exit_:  # the parser refused it
        status = exit_.code
    except SimulationStarted:
        status = None
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err + captured.out and "internal error" not in captured.err, captured.err
    if accepted:
        assert status != 2 or option not in captured.err, captured.err  # not refused for this option
        return
    assert status is not None, f"{' '.join(words)}: the simulation started instead of refusing {option}"
    line = one_line(captured.err, status)
    assert option in line or option.lstrip("-") in line or "expected" in line, line
    assert not (tmp_path / "out").exists() and not (tmp_path / "outputs").exists()
