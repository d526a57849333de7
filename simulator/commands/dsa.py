"""`nelm-sim dsa`: validate, run the one-way sensitivity analysis of every parameter with low/high
bounds and write outputs/<name>-dsa/ with its tornado diagram (README "Health economics")."""

from __future__ import annotations

import time
from pathlib import Path

from ..config import apply_overrides, load_scenario
from ..economics import cea
from ..economics.settings import EconomicSettings
from ..economics.valuation import economics_table
from ..experiments.dsa import DSAResult, check_options, run_dsa
from ..experiments.execution import Execution
from ..experiments.runner import PreparedScenario, prepare
from ..io import atomic_folder, check_destination, write_json
from ..reporting import economics_plots as plots
from ..reporting import numbers
from ..reporting.economics_report import EconomicsView, economics_report
from ..reporting.html_report import patients_text
from .compare import prepared_context, write_results_workbook
from .output import economics_manifest, output_folder, resolved_yaml, write_csv


def write_dsa_folder(
    prepared: PreparedScenario,
    result: DSAResult,
    settings: EconomicSettings,
    destination: Path,
    force: bool,
    command_line: list[str],
    started: float,
    xlsx: bool = False,
) -> Path:
    scenario = prepared.scenario
    names = [s.name for s in prepared.strategies]
    base = economics_table(result.base, names)
    with atomic_folder(destination, force) as staging:
        (staging / "figures").mkdir()
        write_csv(result.results, staging / "dsa.csv", currency=settings.currency)
        write_csv(result.tornado, staging / "tornado.csv", currency=settings.currency)
        write_csv(base, staging / "economics.csv", currency=settings.currency)
        icer = cea.icer_table(names, base["costs"], base["qalys"], settings.willingness_to_pay, result.comparator)
        write_csv(icer, staging / "icer.csv", currency=settings.currency)
        plots.tornado_figure(
            result.tornado,
            result.base_inmb,
            result.target,
            result.comparator,
            result.wtp,
            settings.currency,
            staging / "figures" / "tornado.png",
            f"{scenario.name}: one-way sensitivity of the INMB of {result.target}",
        )
        (staging / "scenario.resolved.yaml").write_text(resolved_yaml(scenario), encoding="utf-8")
        basis = (
            f"Base case: means per patient over {scenario.replications} replication(s) of {patients_text(scenario)}, with t-based "
            f"95% confidence intervals across replications; the one-way analysis varies each parameter to its bounds (the INMB of "
            f"{result.target} against {result.comparator} at {settings.currency} {numbers.money(result.wtp)} per QALY)."
        )
        view = EconomicsView.of(
            prepared,
            base,
            icer,
            basis,
            figures=[
                ("he-dsa", staging / "figures" / "tornado.png", f"{scenario.name}: one-way sensitivity of the INMB of {result.target}")
            ],
            tornado=result.tornado,
        )
        report = economics_report(
            prepared,
            "dsa",
            view,
            prepared_context(prepared, sensitivity=True),
            staging,
            patients_text(scenario) + f"; {scenario.replications} replication(s)",
        )
        (staging / "report.html").write_text(report, encoding="utf-8")
        if xlsx:
            write_results_workbook(staging, prepared)
        write_json(
            staging / "manifest.json",
            economics_manifest(
                prepared,
                settings,
                command_line,
                time.perf_counter() - started,
                replications=scenario.replications,
                patients_per_strategy=scenario.cohort.size,
                comparator=result.comparator,
                target=result.target,
                wtp=result.wtp,
                base_inmb=result.base_inmb,
                parameters_varied=list(result.tornado["parameter"]),
            ),
        )
    return destination


def run_dsa_file(
    path: Path | str,
    out: Path | None = None,
    seed: int | None = None,
    patients: int | None = None,
    replications: int | None = None,
    wtp: float | None = None,
    strategy: str | None = None,
    force: bool = False,
    command_line: list[str] | None = None,
    execution: Execution | None = None,
    progress=None,
    xlsx: bool = False,
    scope: str = "all",
) -> tuple[Path, DSAResult]:
    started = time.perf_counter()
    path = Path(path)
    prepared = prepare(apply_overrides(load_scenario(path), path, seed=seed, patients=patients, replications=replications), path)
    scenario = prepared.scenario
    settings = EconomicSettings.from_scenario(scenario)
    check_options(prepared, settings, wtp, strategy, scope)
    execution = execution or Execution()
    destination = output_folder(out, scenario, path, "-dsa")
    check_destination(destination, force)
    result = run_dsa(prepared, settings, wtp, strategy, execution, progress, scope)
    return write_dsa_folder(prepared, result, settings, destination, force, command_line or [], started, xlsx), result
