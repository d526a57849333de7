"""`nelm-sim scenarios`: the strategy comparison under every variant and sweep point of a scenario file,
written to outputs/<name>-scenarios/ (README "Scenario analyses")."""

from __future__ import annotations

import time
from pathlib import Path

from ..config import apply_overrides, load_scenario
from ..experiments.compare import resolve_comparator
from ..experiments.execution import check_workers
from ..experiments.variants import DEFAULT_METRIC, Progress, ScenarioAnalysis, check_metric, expand, run_analysis
from ..io import atomic_folder, check_destination, write_json
from ..outcomes.cohort import cohort_characteristics
from ..reporting.comparison_figures import write_figures
from ..reporting.html_report import build_report, scenario_analysis_section
from ..reporting.variant_figures import write_variant_figures
from .compare import comparison_economics, economics_report_parts, report_context, write_results_workbook
from .output import manifest, output_folder, resolved_yaml, write_capacity_outputs, write_csv


def write_scenarios_folder(
    analysis: ScenarioAnalysis,
    destination: Path,
    force: bool,
    resolved: str,
    started: float,
    command_line: list[str],
    xlsx: bool = False,
    **extra,
) -> Path:
    """scenarios.csv, variants.csv, comparison.csv, economics.csv, icer.csv, survival.csv, figures/, report.html (the base comparison with a
    scenario-analysis section), scenario.resolved.yaml and manifest.json (with ``extra``), written atomically."""
    base = analysis.base_result.comparison
    assert base is not None, "the base run keeps its whole comparison"
    context = report_context(base, None)
    with atomic_folder(destination, force) as staging:
        figures_folder = staging / "figures"
        figures_folder.mkdir()
        write_csv(analysis.table(), staging / "scenarios.csv")
        write_csv(analysis.variants_table(), staging / "variants.csv")
        write_csv(analysis.contrasts_table(), staging / "comparison.csv")
        # Money in the base's currency; a variant that changes economics.currency says its own in the currency column.
        write_csv(analysis.economics_table(), staging / "economics.csv", currency=base.prepared.scenario.economics.currency)
        write_csv(analysis.icer_table(), staging / "icer.csv", currency=base.prepared.scenario.economics.currency)
        write_csv(analysis.survival(), staging / "survival.csv")
        scenario_figures = write_variant_figures(analysis, figures_folder)
        base_figures = write_figures(base, figures_folder)
        section = scenario_analysis_section(analysis, scenario_figures)
        capacity_section = ""
        if base.capacity is not None:  # the base's capacity tables and planner section, as `compare` writes them
            _, capacity_section = write_capacity_outputs(base.capacity, base.strategies, base.patients, staging)
        economics = comparison_economics(base)  # the base scenario's, as `compare` computes them (the report's section)
        report = build_report(
            base,
            base_figures,
            cohort_characteristics(base.patients),
            context,
            scenario_section=section,
            capacity_section=capacity_section,
            **economics_report_parts(base, economics, staging),
        )
        (staging / "report.html").write_text(report, encoding="utf-8")
        if xlsx:
            write_results_workbook(staging, base.prepared)
        (staging / "scenario.resolved.yaml").write_text(resolved, encoding="utf-8")
        write_json(
            staging / "manifest.json",
            manifest(
                analysis.base,
                analysis.path,
                time.perf_counter() - started,
                command_line,
                **extra,
                figures=[str(path.relative_to(staging)) for path, _ in scenario_figures + base_figures],
            ),
        )
    return destination


def scenarios_file(
    path: Path | str,
    out: Path | None = None,
    seed: int | None = None,
    patients: int | None = None,
    replications: int | None = None,
    comparator: str | None = None,
    metric: str = DEFAULT_METRIC,
    workers: int = 1,
    force: bool = False,
    command_line: list[str] | None = None,
    progress: Progress | None = None,
    xlsx: bool = False,
) -> tuple[Path, ScenarioAnalysis]:
    """Validate every variant and sweep point, run them, and write outputs/<name>-scenarios/ atomically.
    Nothing is written until the whole file, its variants and sweep have been checked."""
    started = time.perf_counter()
    path = Path(path)
    check_metric(metric)
    check_workers(workers)
    scenario = apply_overrides(load_scenario(path), path, seed=seed, patients=patients, replications=replications)
    runs = expand(scenario, path)
    resolve_comparator(runs[0].prepared, comparator)
    destination = output_folder(out, scenario, path, "-scenarios")
    check_destination(destination, force)
    analysis = run_analysis(scenario, path, runs, comparator, metric, workers, progress)
    folder = write_scenarios_folder(
        analysis,
        destination,
        force,
        resolved_yaml(scenario),
        started,
        command_line or [],
        xlsx,
        command="scenarios",
        replications=scenario.replications,
        patients_per_strategy=scenario.cohort.size,
        comparator=analysis.comparator,
        metric=metric,
        variants=[run.name for run in runs],
        workers=workers,
    )
    return folder, analysis
