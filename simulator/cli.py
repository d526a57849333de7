"""`nelm-sim`: the command-line face. Parses arguments, calls one command (simulator/commands/), prints.

Bad input ends with one line on stderr and exit status 2; an interrupted run with exit status 130;
neither leaves a traceback or a partial output folder.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import NoReturn

from . import __version__
from .errors import ScenarioWarning, UserInputError
from .io import WAIT_FOR_DESTINATION, WRITE_FAILURES, WRITTEN, release_destinations, sigterm_as_interrupt


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {value}")
    return value


def _positive_int(text: str) -> int:
    value = _non_negative_int(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number >= 1, got 0")
    return value


def _relative_precision(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 0.05, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a relative precision between 0 and 1 (e.g. 0.05), got {text}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text}")
    return value


def _add_output_options(
    parser: argparse.ArgumentParser,
    folder_suffix: str,
    seed_note: str = "",
    patients: str | None = "override the cohort size (patients per strategy and replication)",
    replications: str | None = "override the number of replications",
    force: str = "replace the output folder if it already exists",
) -> None:
    """--out, --seed, --patients, --replications and --force, as every command that writes a folder has
    them; ``patients`` or ``replications`` None leaves that option out, a text is its help."""
    parser.add_argument("--out", type=Path, metavar="DIR", help=f"output folder (default: outputs/<scenario name>{folder_suffix})")
    parser.add_argument("--seed", type=_non_negative_int, metavar="N", help=f"override the scenario's master seed{seed_note}")
    if patients is not None:
        parser.add_argument("--patients", type=_positive_int, metavar="N", help=patients)
    if replications is not None:
        parser.add_argument("--replications", type=_positive_int, metavar="N", help=replications)
    parser.add_argument("--force", action="store_true", help=force)
    _add_wait_option(parser)


def _add_xlsx_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--xlsx",
        action="store_true",
        help='also write results.xlsx: the parameters with their sources and the folder\'s result tables (README "Health economics")',
    )


def _add_wait_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--wait", action="store_true", help="if another command is writing the same output folder, wait for it instead of stopping"
    )


def _add_execution_options(parser: argparse.ArgumentParser, quiet: bool = True) -> None:
    """Where the work runs; the outputs do not depend on any of these."""
    from .experiments.execution import EXECUTORS, default_workers

    parser.add_argument(
        "--workers",
        type=_positive_int,
        default=default_workers(),
        metavar="N",
        help=f"worker processes (default: all cores, here {default_workers()}); the outputs do not depend on it",
    )
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: worker processes on this machine (default); dask: a Dask distributed cluster",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --executor dask: the scheduler's address, e.g. tcp://10.0.0.5:8786 (default: start a local cluster of --workers processes)",
    )
    if quiet:
        parser.add_argument("--quiet", action="store_true", help="no progress bar (there is none anyway when stderr is not a terminal)")


def _progress_bar(args: argparse.Namespace):
    """The command's progress bar on stderr: off with --quiet, and whenever stderr is not a terminal."""
    from .reporting.progress import ProgressBar

    return ProgressBar(enabled=False if args.quiet else None)


def _execution(args: argparse.Namespace):
    from .experiments.execution import Execution

    return Execution(workers=args.workers, executor=args.executor, scheduler=args.scheduler)


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog="nelm-sim",
        description=(
            "Discrete-event simulation of patients with neuroendocrine liver metastasis (NELM) through "
            "hepatectomy, ablation, intra-arterial and systemic therapy. Compares treatment strategies "
            "on survival and symptom control."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a full traceback on unexpected errors")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_OneLineParser)

    run = commands.add_parser(
        "run",
        help="run a scenario file and write its run folder",
        description="Run every strategy of SCENARIO with common random numbers and write outputs/<name>/.",
    )
    run.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file, e.g. scenarios/baseline.yaml")
    _add_output_options(run, "")
    run.add_argument(
        "--summary",
        action="store_true",
        help="summary mode for very large cohorts: keep per-patient summaries only, never the event log (no events.parquet or patients.csv; memory stays bounded)",
    )
    run.add_argument(
        "--by",
        action="append",
        choices=("primary_site", "grade", "resectable"),
        metavar="TRAIT",
        help="add rows per value of TRAIT (primary_site, grade or resectable at entry) to economics.csv and icer.csv; repeatable (also economics.subgroups)",
    )
    _add_execution_options(run)
    _add_xlsx_option(run)

    compare = commands.add_parser(
        "compare",
        help="compare the strategies of a scenario: confidence intervals, figures and report.html",
        description=(
            "Run every strategy of SCENARIO with common random numbers over replications and write "
            "outputs/<name>-compare/: comparison.csv, figures and a self-contained report.html."
        ),
    )
    compare.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file, e.g. scenarios/baseline.yaml")
    compare.add_argument(
        "--comparator", metavar="NAME", help="strategy the hazard ratios and life-years gained refer to (default: the first)"
    )
    compare.add_argument(
        "--precision",
        type=_relative_precision,
        metavar="P",
        help="add replications until each 95%% CI half-width of median OS and RMST is within P x the mean, e.g. 0.05",
    )
    compare.add_argument(
        "--max-replications", type=_positive_int, metavar="N", help="with --precision: stop after N replications at most (default 100)"
    )
    _add_output_options(compare, "-compare", replications="override the number of replications (ignored with --precision)")
    _add_execution_options(compare)
    _add_xlsx_option(compare)

    scenarios = commands.add_parser(
        "scenarios",
        help="scenario analysis: compare the strategies under every variant and sweep point of a scenario file",
        description=(
            "Run the base scenario, every variant and every sweep point of SCENARIO, each with every strategy and the same "
            "random numbers, and write outputs/<name>-scenarios/: scenarios.csv, variants.csv, figures and report.html."
        ),
    )
    scenarios.add_argument(
        "scenario",
        type=Path,
        metavar="SCENARIO",
        help="scenario YAML file with variants and/or a sweep, e.g. scenarios/population-variants.yaml",
    )
    scenarios.add_argument(
        "--metric",
        default="os_5y",
        metavar="NAME",
        help="metric of the figures and the report's tables (default os_5y; e.g. median_os_months, rmst_os_months, mean_months_uncontrolled)",
    )
    scenarios.add_argument(
        "--comparator", metavar="NAME", help="strategy the hazard ratios and life-years gained refer to (default: the first)"
    )
    scenarios.add_argument(
        "--workers", type=_positive_int, default=1, metavar="N", help="worker processes (default 1); the outputs do not depend on it"
    )
    _add_output_options(
        scenarios,
        "-scenarios",
        seed_note=" (the same for every variant)",
        patients="override the base cohort size (variants that set their own keep it)",
    )
    _add_xlsx_option(scenarios)
    scenarios.add_argument("--quiet", action="store_true", help="no progress bar")

    psa = commands.add_parser(
        "psa",
        help="probabilistic sensitivity analysis: costs and QALYs over parameter draws, CEAC, CEAF, EVPI",
        description=(
            "Draw every parameter that has a psa: distribution, simulate a cohort of every strategy per draw "
            "(common random numbers) and write outputs/<name>-psa/: psa.csv, psa_parameters.csv, psa_summary.csv, "
            "icer.csv, ceac.csv, evpi.csv and figures (CE plane, CEAC, CEAF, EVPI, convergence)."
        ),
    )
    psa.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file, e.g. scenarios/baseline.yaml")
    psa.add_argument("--draws", type=_positive_int, metavar="N", help="parameter draws (default: the scenario's economics.psa_draws, 1000)")
    psa.add_argument(
        "--patients", type=_positive_int, metavar="N", help="patients per strategy in each draw (default: economics.psa_patients, 250)"
    )
    _add_output_options(
        psa,
        "-psa",
        patients=None,
        replications=None,
        force="replace the output folder if it already exists (without --resume: also discard an interrupted run's checkpoint)",
    )
    psa.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from its checkpoint (same scenario and settings); the outputs are those of an uninterrupted run",
    )
    psa.add_argument(
        "--keep-events",
        action="store_true",
        help="also keep every draw's event log (events/events-<draw>.parquet); by default a PSA runs in summary mode and keeps none",
    )
    _add_execution_options(psa)
    _add_xlsx_option(psa)

    dsa = commands.add_parser(
        "dsa",
        help="one-way sensitivity analysis of every parameter with low/high bounds: tornado diagram",
        description=(
            "Set each parameter with low/high bounds to each bound in turn (others at base) and write "
            "outputs/<name>-dsa/: dsa.csv, tornado.csv, economics.csv, icer.csv and figures/tornado.png "
            "(incremental net monetary benefit of a strategy against the comparator)."
        ),
    )
    dsa.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file")
    dsa.add_argument("--strategy", metavar="NAME", help="strategy whose INMB is shown (default: the best other than the comparator)")
    dsa.add_argument("--wtp", type=_non_negative_float, metavar="X", help="willingness to pay per QALY (default: the scenario's first)")
    dsa.add_argument(
        "--parameters",
        choices=("all", "clinical", "economic"),
        default="all",
        help="which parameters to vary: all (default), clinical (each a new simulation) or economic (re-values the base run; fast)",
    )
    _add_output_options(dsa, "-dsa", patients="override the cohort size")
    _add_execution_options(dsa)
    _add_xlsx_option(dsa)

    capacity = commands.add_parser(
        "capacity",
        help="capacity planning: the smallest capacity (or sessions a week) of a resource that meets a 90th-percentile wait target",
        description=(
            "Re-run SCENARIO (every strategy, same seed) at capacities of RESOURCE from --min-capacity upward until the "
            "90th-percentile wait of every strategy is at most --target-p90-wait days, and write "
            "outputs/<name>-capacity-<resource>/: capacity_curve.csv (capacity, p90 wait, 5-year OS) and figures/capacity_curve.png. "
            "With --vary sessions, vary the weekly sessions of a scheduled RESOURCE instead (its units fixed) from --min-sessions "
            "upward, into outputs/<name>-capacity-<resource>-sessions/."
        ),
    )
    capacity.add_argument(
        "scenario",
        type=Path,
        metavar="SCENARIO",
        help="scenario YAML file with a capacity section, e.g. scenarios/capacity-constrained.yaml",
    )
    capacity.add_argument(
        "--resource",
        required=True,
        metavar="NAME",
        help="resource to size: mdt, theatre, ir_suite, beds, day_unit or nuclear_medicine (configured in the scenario)",
    )
    capacity.add_argument(
        "--target-p90-wait",
        required=True,
        type=_non_negative_float,
        metavar="DAYS",
        help="largest acceptable 90th-percentile wait, in days",
    )
    capacity.add_argument(
        "--vary",
        choices=["capacity", "sessions"],
        default="capacity",
        help=(
            "what the search varies: capacity (parallel units, the default) or sessions (whole weekly sessions of a resource"
            " with a schedule, units fixed: the schedule's first N sessions, then copies of its first session on the free days,"
            " Monday to Sunday)"
        ),
    )
    # Defaults applied in _cmd_capacity, so that an option of the other kind of search can be refused.
    capacity.add_argument("--min-capacity", type=_positive_int, metavar="N", help="first capacity tried (default 1)")
    capacity.add_argument("--max-capacity", type=_positive_int, metavar="N", help="last capacity tried before giving up (default 20)")
    capacity.add_argument(
        "--min-sessions", type=_positive_int, metavar="N", help="with --vary sessions: first number of sessions a week tried (default 1)"
    )
    capacity.add_argument(
        "--max-sessions",
        type=_positive_int,
        metavar="N",
        help="with --vary sessions: last number of sessions a week tried (default: the most the schedule allows, one a day)",
    )
    _add_output_options(capacity, "-capacity-<resource>, with -sessions for --vary sessions", patients=None)
    capacity.add_argument("--quiet", action="store_true", help="no progress bar")

    validate = commands.add_parser(
        "validate",
        help="check a scenario file without running it",
        description="Validate SCENARIO and its strategies and parameter overrides.",
    )
    validate.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file")

    calibrate = commands.add_parser(
        "calibrate",
        help="fit the calibrated parameters to the published figures (or only check them with --check)",
        description="Simulate the virtual trials and cohorts of scenarios/seed/, compare each target with its published value, and (without --check) refit the calibrated parameters; then evaluate the external validation set (scenarios/validation/, never fitted). Writes calibration.csv and validation.csv; exits 1 if any calibration target fails (validation misses are reported but do not change the exit status).",
    )
    calibrate.add_argument("--check", action="store_true", help="only simulate and compare; do not refit")
    calibrate.add_argument(
        "--seed-dir",
        type=Path,
        metavar="DIR",
        help="folder of seed scenarios (default: those shipped with nelm-sim, the same files as scenarios/seed of a checkout)",
    )
    calibrate.add_argument(
        "--validation-dir",
        type=Path,
        metavar="DIR",
        help="folder of validation scenarios (default: validation/ beside --seed-dir; with the shipped seeds, the shipped validation set)",
    )
    calibrate.add_argument(
        "--patients", type=_positive_int, metavar="N", help="patients per arm when checking (default: each seed scenario's own, 5,000)"
    )
    calibrate.add_argument(
        "--fit-patients", type=_positive_int, default=2000, metavar="N", help="patients per arm while fitting (default 2000)"
    )
    calibrate.add_argument(
        "--max-evaluations", type=_positive_int, default=120, metavar="N", help="Nelder-Mead evaluations per block (default 120)"
    )
    calibrate.add_argument("--block", action="append", metavar="NAME", help="refit only this block (repeatable; default: every block)")
    calibrate.add_argument(
        "--latin-hypercube",
        type=_non_negative_int,
        default=40,
        metavar="N",
        help="points of the global Latin-hypercube search per block before Nelder-Mead (default 40)",
    )
    calibrate.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="folder for calibration.csv (default outputs/calibration)",
    )
    calibrate.add_argument(
        "--identifiability",
        action="store_true",
        help="also write identifiability.csv (targets x parameters sensitivity) and identifiability_parameters.csv "
        "(rank, condition number, parameters near a bound); 2 runs of every seed scenario per calibrated parameter",
    )
    calibrate.add_argument(
        "--burden-model",
        action="store_true",
        help="with --check: simulate every seed and validation scenario under the burden disease model "
        "(disease.burden_model 1, off by default; fitted by scripts/burden_fit.py, docs/calibration.md)",
    )
    posterior = calibrate.add_argument_group("Bayesian calibration (--posterior; docs/calibration.md)")
    posterior.add_argument(
        "--posterior",
        action="store_true",
        help="estimate the joint posterior of the calibrated parameters (history matching with Gaussian-process emulators, then IMIS) "
        "instead of fitting; writes params/posterior.csv and diagnostics into --out (default outputs/posterior)",
    )
    posterior.add_argument("--posterior-patients", type=_positive_int, metavar="N", help="patients per arm per simulator run (default 500)")
    posterior.add_argument("--design-points", type=_positive_int, metavar="N", help="simulator runs per wave (default 220)")
    posterior.add_argument("--waves", type=_positive_int, metavar="N", help="history-matching waves (default 3)")
    posterior.add_argument("--posterior-samples", type=_positive_int, metavar="N", help="posterior draws written (default 1000)")
    posterior.add_argument("--prior-draws", type=_positive_int, metavar="N", help="IMIS's initial draws from the prior (default 20000)")
    posterior.add_argument(
        "--library-dir",
        type=Path,
        metavar="DIR",
        help="where posterior.csv and posterior.yaml go (default: the package's parameter library)",
    )
    calibrate.add_argument("--force", action="store_true", help="replace the output folder if it already exists")
    _add_wait_option(calibrate)
    _add_execution_options(calibrate)

    reproduce = commands.add_parser(
        "reproduce",
        help="redraw the seed review's figures 1, 2B, 3A and 3B from simulated patients",
        description="Run the seed scenarios and write the review's figures with the published points overlaid, calibration.csv and report.md.",
    )
    reproduce.add_argument(
        "--seed-dir",
        type=Path,
        metavar="DIR",
        help="folder of seed scenarios (default: those shipped with nelm-sim, the same files as scenarios/seed of a checkout)",
    )
    reproduce.add_argument(
        "--validation-dir",
        type=Path,
        metavar="DIR",
        help="folder of validation scenarios (default: validation/ beside --seed-dir; with the shipped seeds, the shipped validation set)",
    )
    reproduce.add_argument("--patients", type=_positive_int, metavar="N", help="patients per arm (default: each seed scenario's own)")
    reproduce.add_argument("--out", type=Path, metavar="DIR", help="output folder (default outputs/seed-figures)")
    reproduce.add_argument("--force", action="store_true", help="replace the output folder if it already exists")
    _add_wait_option(reproduce)
    _add_execution_options(reproduce)

    schema = commands.add_parser(
        "schema",
        help="print the JSON Schema of scenario files (for editor completion and checking)",
        description="Print the JSON Schema (draft 2020-12) of scenario files, generated from the validation models.",
    )
    schema.add_argument("--out", type=Path, metavar="FILE", help="write it to FILE instead of printing it")

    params = commands.add_parser(
        "params",
        help="print every model parameter with its value, unit and source",
        description="Print the provenance table of the parameter library (optionally with a scenario's overrides).",
    )
    params.add_argument("scenario", type=Path, nargs="?", metavar="SCENARIO", help="apply this scenario's overrides")
    params.add_argument("--csv", action="store_true", help="print CSV instead of an aligned table")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from .commands.run import run_file

    with _progress_bar(args) as bar:
        destination = run_file(
            args.scenario,
            out=args.out,
            seed=args.seed,
            patients=args.patients,
            replications=args.replications,
            force=args.force,
            xlsx=args.xlsx,
            command_line=["nelm-sim", *sys.argv[1:]],
            execution=_execution(args),
            summary=args.summary,
            progress=bar,
            by=args.by,
        )
    print(f"wrote {destination}")
    summary = destination / "summary.csv"
    if summary.exists():
        from .commands.output import read_csv
        from .reporting.tables import RUN_NOTE, run_summary_text

        print(RUN_NOTE)
        print(run_summary_text(read_csv(summary)))
    icer = destination / "icer.csv"
    if icer.exists():
        from .reporting.tables import ECONOMICS_NOTE, icer_text

        print(ECONOMICS_NOTE)
        print(icer_text(read_csv(icer)))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .commands.compare import compare_file
    from .reporting.tables import COMPARE_NOTE, headline_table

    with _progress_bar(args) as bar:
        destination, comparison = compare_file(
            args.scenario,
            out=args.out,
            seed=args.seed,
            patients=args.patients,
            replications=args.replications,
            comparator=args.comparator,
            precision=args.precision,
            max_replications=args.max_replications,
            force=args.force,
            command_line=["nelm-sim", *sys.argv[1:]],
            progress=bar,
            execution=_execution(args),
            xlsx=args.xlsx,
        )
    print(f"wrote {destination} ({comparison.replications} replication(s); open {destination / 'report.html'})")
    if comparison.precision is not None and not comparison.precision_met:
        print(
            f"note: the precision {comparison.precision:g} was not reached within {comparison.replications} replications", file=sys.stderr
        )
    table = headline_table(comparison.summary, comparison.strategies, comparison.comparator)
    print(COMPARE_NOTE)
    print(table.to_string(index=False))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .commands.validate import validate_file

    print(validate_file(args.scenario))
    return 0


def _cmd_scenarios(args: argparse.Namespace) -> int:
    from .commands.scenarios import scenarios_file
    from .outcomes.metrics import metric_info
    from .reporting.tables import variant_text

    with _progress_bar(args) as bar:
        destination, analysis = scenarios_file(
            args.scenario,
            out=args.out,
            seed=args.seed,
            patients=args.patients,
            replications=args.replications,
            comparator=args.comparator,
            metric=args.metric,
            workers=args.workers,
            force=args.force,
            command_line=["nelm-sim", *sys.argv[1:]],
            progress=bar,
            xlsx=args.xlsx,
        )
    print(f"wrote {destination} ({len(analysis.runs)} runs; open {destination / 'report.html'})")
    table = analysis.table()
    table = table[table["metric"] == analysis.metric]
    print(f"{metric_info(analysis.metric)[0]} ({analysis.metric}), mean over replications [95% CI]:")
    variants = [r.name for r in analysis.runs]
    print(variant_text(table, analysis.metric, metric_info(analysis.metric)[1], variants, analysis.strategies, analysis.comparator))
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    from .commands.params import parameter_rows, rows_csv, rows_text

    rows = parameter_rows(args.scenario)
    sys.stdout.write(rows_csv(rows) if args.csv else rows_text(rows))
    return 0


def _print_targets(table, title: str = "Calibration", note: str = "") -> None:
    from .reporting.tables import targets_text

    print(f"{title}:")
    print(targets_text(table))
    failed = int((~table["pass"]).sum())
    print(f"{title}: {len(table) - failed} of {len(table)} targets pass" + (f"; {failed} FAIL" if failed else "") + note)


def _cmd_calibrate_posterior(args: argparse.Namespace) -> int:
    from .commands import posterior
    from .reporting import numbers

    for flag, given in (
        ("--check", args.check),
        ("--block", args.block),
        ("--identifiability", args.identifiability),
        ("--burden-model", args.burden_model),
    ):
        if given:
            raise UserInputError(f"{flag}: expected without --posterior (the posterior covers every block and only writes its sample)")
    destination, diagnostics = posterior.posterior_file(
        args.seed_dir,
        args.out,
        args.posterior_patients or posterior.DEFAULT_PATIENTS,
        args.design_points or posterior.DEFAULT_DESIGN_POINTS,
        args.waves or posterior.DEFAULT_WAVES,
        args.posterior_samples or posterior.DEFAULT_SAMPLES,
        args.prior_draws or posterior.DEFAULT_PRIOR_DRAWS,
        posterior.DEFAULT_SEED,
        args.force,
        _execution(args),
        (lambda text: None) if args.quiet else print,
        args.library_dir,
    )
    print(
        f"posterior: effective sample size {numbers.count(diagnostics['effective_sample_size'])}; "
        f"{diagnostics['targets_inside_95_predictive']} of {diagnostics['targets']} published targets inside the 95% posterior-predictive interval "
        f"({numbers.percent(diagnostics['posterior_predictive_coverage'])}); {diagnostics['simulator_runs']} simulator runs at "
        f"{diagnostics['patients_per_arm_per_evaluation']} patients per arm; wall time {numbers.value(diagnostics['wall_seconds'])} s"
    )
    print(f"wrote {destination} and the sample to the parameter library")
    return 0


POSTERIOR_ONLY = ("posterior_patients", "design_points", "waves", "posterior_samples", "prior_draws", "library_dir")


def _cmd_calibrate(args: argparse.Namespace) -> int:
    if args.posterior:
        return _cmd_calibrate_posterior(args)
    for name in POSTERIOR_ONLY:
        if getattr(args, name) is not None:
            raise UserInputError(f"--{name.replace('_', '-')}: expected only with --posterior")
    from .commands.calibrate import calibrate_file

    with _progress_bar(args) as bar:
        saved, written, table, validation = calibrate_file(
            args.seed_dir,
            args.out,
            args.check,
            args.patients,
            args.fit_patients,
            args.max_evaluations,
            args.latin_hypercube,
            args.block,
            args.force,
            _execution(args),
            (lambda text: None) if args.quiet else print,
            bar,
            args.validation_dir,
            args.identifiability,
            args.burden_model,
        )
    if saved is not None:
        print(f"saved calibrated parameters to {saved}")
    _print_targets(table)
    print()
    _print_targets(validation, "Validation", " (reported; validation misses do not change the exit status)")
    print(f"wrote {written} and {written.with_name('validation.csv')}")
    return 0 if table["pass"].all() else 1  # calibration misses fail the command; validation misses do not


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from .commands.reproduce import reproduce

    with _progress_bar(args) as bar:
        destination, table, validation = reproduce(
            args.seed_dir, args.out, args.patients, args.force, _execution(args), bar, args.validation_dir
        )
    _print_targets(table)
    print()
    _print_targets(validation, "Validation", " (reported; validation misses do not change the exit status)")
    print(f"wrote {destination}")
    return 0


COMMANDS = {"run": _cmd_run, "compare": _cmd_compare, "validate": _cmd_validate, "params": _cmd_params}
COMMANDS.update({"calibrate": _cmd_calibrate, "reproduce": _cmd_reproduce, "scenarios": _cmd_scenarios})


def _psa_resume_command(args: argparse.Namespace) -> str:
    """The command that continues this PSA run: its own options (not sys.argv, which is not the
    command when main() is called from Python) and --resume."""
    import shlex

    words = ["nelm-sim", "psa", str(args.scenario)]
    for option in ("draws", "patients", "workers", "out", "seed", "scheduler"):
        if getattr(args, option) is not None:
            words += [f"--{option}", str(getattr(args, option))]
    if args.executor != "local":
        words += ["--executor", args.executor]
    words += ["--keep-events"] * args.keep_events + ["--xlsx"] * args.xlsx + ["--force"] * args.force + ["--resume"]
    return shlex.join(words)


def _cmd_psa(args: argparse.Namespace) -> int:
    import time

    from .commands.output import read_csv
    from .commands.psa import run_psa_file
    from .experiments.psa import RunInterrupted

    started = time.perf_counter()
    try:
        with _progress_bar(args) as bar:  # closed before anything below is printed
            destination = run_psa_file(
                args.scenario,
                out=args.out,
                seed=args.seed,
                draws=args.draws,
                patients=args.patients,
                force=args.force,
                command_line=["nelm-sim", *sys.argv[1:]],
                resume=args.resume,
                execution=_execution(args),
                keep_events=args.keep_events,
                progress=bar,
                xlsx=args.xlsx,
            )
    except RunInterrupted as stop:
        print(
            f"nelm-sim: interrupted after {stop.completed} of {stop.total} draws; resume with: {_psa_resume_command(args)}", file=sys.stderr
        )
        return 130
    from .reporting import numbers
    from .reporting.tables import psa_summary_text

    print(f"wrote {destination} in {numbers.seconds(time.perf_counter() - started)} s")
    print(psa_summary_text(read_csv(destination / "psa_summary.csv")))
    return 0


def _cmd_dsa(args: argparse.Namespace) -> int:
    from .commands.dsa import run_dsa_file
    from .reporting import numbers
    from .reporting.tables import tornado_text

    with _progress_bar(args) as bar:
        destination, result = run_dsa_file(
            args.scenario,
            out=args.out,
            seed=args.seed,
            patients=args.patients,
            replications=args.replications,
            wtp=args.wtp,
            strategy=args.strategy,
            force=args.force,
            command_line=["nelm-sim", *sys.argv[1:]],
            execution=_execution(args),
            progress=bar,
            xlsx=args.xlsx,
            scope=args.parameters,
        )
    print(
        f"wrote {destination}: INMB of {result.target} vs {result.comparator} at {numbers.money(result.wtp)} per QALY"
        f" = {numbers.money(result.base_inmb)} per patient"
    )
    print(tornado_text(result.tornado))
    return 0


def _cmd_capacity(args: argparse.Namespace) -> int:
    from .commands.capacity import capacity_file
    from .experiments.capacity_search import DEFAULT_MAX_CAPACITY
    from .reporting import numbers
    from .reporting.tables import capacity_curve_text

    sessions = args.vary == "sessions"
    other = ("--min-capacity", "--max-capacity") if sessions else ("--min-sessions", "--max-sessions")
    for option in other:
        if getattr(args, option[2:].replace("-", "_")) is not None:
            expected = "--min-sessions/--max-sessions with --vary sessions" if sessions else "--vary sessions"
            raise UserInputError(f"{option}: not an option of --vary {args.vary}; expected {expected}")
    if sessions:
        minimum, maximum = args.min_sessions, args.max_sessions  # None: capacity_file's defaults
    else:
        minimum = 1 if args.min_capacity is None else args.min_capacity
        maximum = DEFAULT_MAX_CAPACITY if args.max_capacity is None else args.max_capacity
    with _progress_bar(args) as bar:
        destination, answer = capacity_file(
            args.scenario,
            args.resource,
            args.target_p90_wait,
            minimum,
            maximum,
            out=args.out,
            seed=args.seed,
            replications=args.replications,
            force=args.force,
            command_line=["nelm-sim", *sys.argv[1:]],
            progress=bar,
            vary=args.vary,
        )
    curve = answer.curve
    print(capacity_curve_text(curve))
    column = answer.varied_column
    tried = curve[column]
    what = f"{args.resource} capacity" if not sessions else f"number of {args.resource} sessions a week"
    if answer.answer is None:
        print(
            f"no {what} from {int(tried.min())} to {int(tried.max())} meets a 90th-percentile wait of {args.target_p90_wait:g} days"
            if sessions
            else f"no {args.resource} capacity from {minimum} to {maximum} meets a 90th-percentile wait of {args.target_p90_wait:g} days"
        )
    else:
        best = curve[curve[column] == answer.answer]
        schedule = (
            f"{best['schedule'].iloc[0]}, {numbers.hours(best['open_hours_per_week'].iloc[0])} open hours a week; " if sessions else ""
        )
        print(
            f"smallest {what} with a 90th-percentile wait <= {args.target_p90_wait:g} days: {answer.answer}"
            f" ({schedule}p90 wait {numbers.days(best['p90_wait_days'].max())} days;"
            f" 5-year OS {', '.join(f'{s} {numbers.percent(v)}' for s, v in zip(best['strategy'], best['os_5y']))})"
        )
    print(f"wrote {destination}")
    return 0


COMMANDS.update({"psa": _cmd_psa, "dsa": _cmd_dsa, "capacity": _cmd_capacity})


def _cmd_schema(args: argparse.Namespace) -> int:
    from .commands.schema import schema_text

    if args.out is None:
        sys.stdout.write(schema_text())
        return 0
    from .io import write_file_atomic

    write_file_atomic(args.out, schema_text())
    print(f"wrote {args.out}")
    return 0


COMMANDS["schema"] = _cmd_schema


def _internal_error(exc: Exception, args: argparse.Namespace) -> int:
    if args.debug:
        raise exc
    message = " ".join(str(exc).split())
    print(f"nelm-sim: internal error: {type(exc).__name__}: {message} (rerun with --debug for details)", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None, exits_after: bool = False) -> int:
    """Run one command; its exit status. ``exits_after``: the program ends when this returns (script)."""
    WRITTEN.clear()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        # ScenarioWarnings (e.g. a rule that never fires): one line each, shown once the command has
        # succeeded, so that bad input still ends with exactly one line on stderr.
        with warnings.catch_warnings(record=True) as caught, sigterm_as_interrupt(ignore_after=exits_after):
            warnings.simplefilter("always", ScenarioWarning)
            WAIT_FOR_DESTINATION["wait"] = bool(getattr(args, "wait", False))
            status = COMMANDS[args.command](args)
        shown: set[str] = set()
        for warning in caught:
            if issubclass(warning.category, ScenarioWarning):
                line = f"nelm-sim: warning: {' '.join(str(warning.message).split())}"
                if line not in shown:  # the same warning from several tasks (replications, draws): once
                    shown.add(line)
                    print(line, file=sys.stderr)
            else:
                warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)
        return status
    except UserInputError as exc:
        print(f"nelm-sim: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        if WRITTEN:  # the folder was already in place, whole, when the interruption came
            print(f"nelm-sim: interrupted after {WRITTEN[-1]} was written (it is complete)", file=sys.stderr)
        else:
            print("nelm-sim: interrupted; no output folder was written", file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno not in WRITE_FAILURES:
            return _internal_error(exc, args)
        where = exc.filename or "the output folder"
        resume = "; `--resume` continues from the draws saved so far" if args.command == "psa" else ""
        print(
            f"nelm-sim: error: {where}: could not write ({os.strerror(exc.errno)}); no output folder was written{resume}", file=sys.stderr
        )
        return 1
    except Exception as exc:  # noqa: BLE001 - the user gets one line; --debug shows the traceback
        return _internal_error(exc, args)
    finally:
        release_destinations()


def script() -> NoReturn:
    """The program once imported (simulator/__main__.py): the command, then an exit that no signal turns
    into death by that signal. Once main() has returned, the folder is whole or
    absent and its lock released; SIGINT or SIGTERM during the interpreter's exit (atexit handlers,
    worker threads joined, modules torn down) would only replace the command's exit status."""
    try:
        status = main(exits_after=True)
    finally:  # also after --help, --version or a usage error, which end in SystemExit
        for number in (signal.SIGINT, signal.SIGTERM):
            signal.signal(number, signal.SIG_IGN)
    if status != 0:
        # A command that stopped early may have ended a worker pool's processes in the middle of a task;
        # one ended while writing its result leaves half a message in the pool's result pipe, and Python's
        # exit then waits forever for the pool's manager thread, which waits for the rest (seen by the
        # signal fuzz under load: calibrate with 2 workers, interrupted, its line printed, never ending).
        # Its work is over: staging removed, lock released (main), workers ended. Nothing is left to wait for.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)


if __name__ == "__main__":  # pragma: no cover
    script()
