"""`nelm-sim`: the command-line face. Parses arguments, calls one experiment, prints.

Bad input ends with one line on stderr and exit status 2; an interrupted run with exit status 130;
neither leaves a traceback or a partial output folder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .errors import UserInputError


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
    run.add_argument("--out", type=Path, metavar="DIR", help="output folder (default: outputs/<scenario name>)")
    run.add_argument("--seed", type=_non_negative_int, metavar="N", help="override the scenario's master seed")
    run.add_argument("--patients", type=_positive_int, metavar="N", help="override the cohort size (patients per strategy and replication)")
    run.add_argument("--replications", type=_positive_int, metavar="N", help="override the number of replications")
    run.add_argument("--force", action="store_true", help="replace the output folder if it already exists")

    validate = commands.add_parser("validate", help="check a scenario file without running it", description="Validate SCENARIO and its strategies and parameter overrides.")
    validate.add_argument("scenario", type=Path, metavar="SCENARIO", help="scenario YAML file")

    params = commands.add_parser("params", help="print every model parameter with its value, unit and source", description="Print the provenance table of the parameter library (optionally with a scenario's overrides).")
    params.add_argument("scenario", type=Path, nargs="?", metavar="SCENARIO", help="apply this scenario's overrides")
    params.add_argument("--csv", action="store_true", help="print CSV instead of an aligned table")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from .api import run_file

    destination = run_file(
        args.scenario,
        out=args.out,
        seed=args.seed,
        patients=args.patients,
        replications=args.replications,
        force=args.force,
        command_line=["nelm-sim", *sys.argv[1:]],
    )
    print(f"wrote {destination}")
    summary = destination / "summary.csv"
    if summary.exists():
        import pandas as pd

        table = pd.read_csv(summary)
        columns = ["strategy", "n", "median_os_months", "os_5y", "median_pfs1_months", "mean_months_uncontrolled"]
        print(table[columns].to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    from .config import load_scenario
    from .experiments.runner import prepare

    scenario = load_scenario(args.scenario)
    prepared = prepare(scenario, args.scenario)
    print(f"{args.scenario}: valid ({len(prepared.strategies)} strategies, {scenario.cohort.size} patients, {scenario.replications} replications)")
    return 0


def _cmd_params(args: argparse.Namespace) -> int:
    import pandas as pd

    from .params.parameter_set import build_parameter_set

    if args.scenario is not None:
        from .config import load_scenario
        from .experiments.runner import prepare

        params = prepare(load_scenario(args.scenario), args.scenario).params
    else:
        params = build_parameter_set()
    table = pd.DataFrame(params.provenance_rows())
    if args.csv:
        sys.stdout.write(table.to_csv(index=False))
    else:
        with pd.option_context("display.max_colwidth", 120, "display.width", 250, "display.max_rows", None):
            print(table.to_string(index=False))
    return 0


COMMANDS = {"run": _cmd_run, "validate": _cmd_validate, "params": _cmd_params}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except UserInputError as exc:
        print(f"nelm-sim: error: {' '.join(str(exc).split())}", file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        print("nelm-sim: interrupted; no output folder was written", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the user gets one line; --debug shows the traceback
        if args.debug:
            raise
        print(f"nelm-sim: internal error: {type(exc).__name__}: {' '.join(str(exc).split())} (rerun with --debug for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
