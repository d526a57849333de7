"""The page's computations, as plain functions (no Streamlit here): a strategy comparison and a small
PSA run exactly as `nelm-sim compare` and `nelm-sim psa` run them, the page's figures drawn by the CLI's
figure functions, the downloads written by the CLI's folder writers, and the seed review's figures as
`nelm-sim reproduce` draws them.

``page_result`` and ``seed_figures`` return plain data (tables and PNG bytes) that the page caches.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..commands.compare import write_comparison_folder
from ..commands.output import csv_text
from ..commands.psa import write_psa_folder
from ..economics.settings import EconomicSettings
from ..experiments.compare import Comparison, run_comparison
from ..experiments.psa import PSAResult, draws_matrix, run_psa, summarise_psa
from ..experiments.runner import PreparedScenario, prepare
from ..outcomes.metrics import HEADLINE_METRICS, metric_info
from ..reporting import economics_plots
from ..reporting.comparison_figures import kaplan_meier_panels
from ..reporting.pathway_figures import occupancy_figure, symptom_figure
from ..reporting.style import save
from ..reporting.survival_figures import forest_figure, km_figure
from ..reporting.tables import cost_effectiveness_table, headline_table, metric_table
from . import capacity
from .settings import SETTINGS_LABEL, scenario_yaml

Progress = Callable[[float, str], None]  # (fraction done, what is running)

PAGE_SCENARIO_FILE = "scenario.yaml"
# Width of a figure shown in half the page (the before/after view): at the style's DPI about the width of
# a half-page column in a 1,600-pixel window, so that the browser hardly scales it, nor its at-risk numbers.
NARROW_FIGURE_INCHES = 5.5
COMPARE_FOLDER = "compare"
PSA_FOLDER = "psa"
# pyplot keeps global state and the page draws from several threads (one per browser session, and
# the downloads' own): one figure-drawing job at a time.
FIGURE_LOCK = threading.RLock()
# The numbers of the headline table, as numbers (the page's second table and the tests read these).


@dataclass
class Simulation:
    """What a page run simulated: the comparison of `nelm-sim compare` and the PSA of `nelm-sim psa`."""

    prepared: PreparedScenario
    comparison: Comparison
    psa: PSAResult | None  # None with one strategy: no costs to compare
    economics: EconomicSettings
    seconds: float


@dataclass
class PageResult:
    scenario_yaml: str
    strategies: list[str]
    comparator: str
    replications: int
    patients: int  # per strategy and replication (an open population: the mean number who arrived in the window)
    open_population: bool
    psa_draws: int
    psa_patients: int
    headline: pd.DataFrame  # as `nelm-sim compare` prints it
    key_metrics: pd.DataFrame  # strategy, metric, label, unit, estimate, lower_95, upper_95
    all_metrics: pd.DataFrame  # every metric: rows, strategies as columns, 'estimate [CI]'
    psa_summary: pd.DataFrame | None  # the rows of psa_summary.csv (None: one strategy, no PSA)
    icer: pd.DataFrame | None  # the rows of the PSA's icer.csv
    cost_effectiveness: pd.DataFrame | None  # both, formatted for reading
    resectable_share: float  # resectable at entry, in the simulated cohort
    figures: dict[str, bytes]  # PNG by role: km_os, km_os_narrow, km_pfs, symptoms, hazard_ratios, occupancy, ce_plane, ceac
    comparison_csv: bytes  # comparison.csv as `nelm-sim compare` writes it
    capacity: capacity.CapacityView | None  # the planner's view, when the scenario has resources
    seconds: float  # simulation and figures


class _PSAProgress:
    """Stands in for run_psa's checkpoint: nothing saved, nothing to resume; each completed draw
    advances the page's progress bar."""

    def __init__(self, on_draw: Callable[[int], None]) -> None:
        self.on_draw = on_draw
        self.completed = 0

    def load(self) -> dict[int, str]:
        return {}

    def save(self, draw: int, text: str) -> None:  # noqa: ARG002 - the checkpoint interface
        self.completed += 1
        self.on_draw(self.completed)


def simulate(prepared: PreparedScenario, psa_draws: int, psa_patients: int, progress: Progress | None = None) -> Simulation:
    """Compare the strategies as `nelm-sim compare` does and run the PSA as `nelm-sim psa --draws
    psa_draws --patients psa_patients` does (one worker: the CLI's results do not depend on it). With one
    strategy there is nothing to compare costs with: no PSA."""
    started = time.perf_counter()
    scenario = prepared.scenario
    names = [s.name for s in prepared.strategies]
    if len(names) < 2:
        psa_draws = 0
    # Progress weighted by simulated lifetimes: a compare step is one strategy of one replication,
    # a PSA draw every strategy for psa_patients patients.
    compare_weight = scenario.cohort.size
    total = scenario.replications * len(names) * compare_weight + psa_draws * len(names) * psa_patients

    def report(done: float, label: str) -> None:
        if progress is not None:
            progress(min(done / total, 1.0), label)

    def compare_tick(done: int, _total: int, label: str) -> None:
        report(done * compare_weight, f"Comparison: {label}")

    comparison: Comparison = run_comparison(prepared, progress=compare_tick)
    compare_done = scenario.replications * len(names) * compare_weight
    economics = EconomicSettings.from_scenario(scenario)
    tracker = _PSAProgress(
        lambda k: report(compare_done + k * len(names) * psa_patients, f"Cost-effectiveness: PSA draw {k} of {psa_draws}")
    )
    psa = run_psa(prepared, psa_draws, psa_patients, 1, economics, tracker) if psa_draws else None  # type: ignore[arg-type]
    report(total, "Drawing the figures")
    return Simulation(prepared, comparison, psa, economics, time.perf_counter() - started)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    save(fig, buffer)
    return buffer.getvalue()


def _png_of(draw: Callable[[io.BytesIO], None]) -> bytes:
    buffer = io.BytesIO()
    draw(buffer)
    return buffer.getvalue()


def page_figures(simulation: Simulation) -> dict[str, bytes]:
    """The figures the page shows, drawn by the CLI's figure functions with the CLI's inputs (those of
    comparison_figures.write_figures and commands.psa.write_psa_folder), without the swimmer plots
    and PSA extras that only the downloads need."""
    comparison = simulation.comparison
    scenario = comparison.prepared.scenario
    names = comparison.strategies
    figures: dict[str, bytes] = {}
    shown, panels = kaplan_meier_panels(comparison)
    for panel, role in zip(panels, ("km_os", "km_pfs")):
        title = f"{scenario.name}: {panel.words}"
        figures[role] = _png(km_figure(panel.curves, panel.at_risk, names, f"{title} by strategy", panel.ylabel, shown))
        if role == "km_os":  # the before/after view shows two side by side: drawn narrow, its text keeps its size
            figures["km_os_narrow"] = _png(
                km_figure(panel.curves, panel.at_risk, names, title, panel.ylabel, shown, width=NARROW_FIGURE_INCHES)
            )
    figures["symptoms"] = _png(symptom_figure(comparison.symptom_curve, names, shown))
    hazards = comparison.summary[comparison.summary["metric"] == "hr_os_vs_comparator"]
    if len(names) > 1:  # with one strategy there is nothing to compare it with
        figures["hazard_ratios"] = _png(forest_figure(hazards, comparison.comparator, names, comparison.replications))
    figures["occupancy"] = _png(occupancy_figure(comparison.occupancy, names, shown))

    psa, economics = simulation.psa, simulation.economics
    if psa is None:
        return figures
    summary = summarise_psa(psa, economics, simulation.prepared.params)
    costs = draws_matrix(psa.outcomes, names, "costs")
    qalys = draws_matrix(psa.outcomes, names, "qalys")
    title = f"{scenario.name}: {len(costs)} PSA draws x {psa.patients} patients"
    figures["ce_plane"] = _png_of(
        lambda out: economics_plots.ce_plane_figure(
            qalys.sub(qalys[summary.comparator], axis=0),
            costs.sub(costs[summary.comparator], axis=0),
            summary.comparator,
            economics.willingness_to_pay,
            economics.currency,
            out,
            f"{title}: cost-effectiveness plane",
        )
    )
    figures["ceac"] = _png_of(
        lambda out: economics_plots.ceac_figure(
            summary.grid, summary.acceptability, names, summary.best, economics.currency, out, f"{title}: acceptability curves"
        )
    )
    return figures


def page_result(simulation: Simulation) -> PageResult:
    """Tables and figures of the page (plain data, cached by the page)."""
    started = time.perf_counter()
    comparison = simulation.comparison
    scenario = comparison.prepared.scenario
    names = comparison.strategies
    summary = comparison.summary
    key = summary[summary["metric"].isin(HEADLINE_METRICS)][["strategy", "metric", "label", "unit", "estimate", "lower_95", "upper_95"]]
    metrics = [m for m in summary["metric"].unique() if metric_info(m)[2] != "other"]
    psa = simulation.psa
    open_population = scenario.capacity is not None and scenario.capacity.arrivals is not None
    psa_summary = summarise_psa(psa, simulation.economics, simulation.prepared.params) if psa is not None else None
    with FIGURE_LOCK:
        figures = page_figures(simulation)
        planner = capacity.capacity_view(comparison)
    return PageResult(
        scenario_yaml=scenario_yaml(scenario),
        strategies=names,
        comparator=comparison.comparator,
        replications=comparison.replications,
        patients=scenario.cohort.size if not open_population else len(comparison.patients) // (len(names) * comparison.replications),
        open_population=open_population,
        psa_draws=len(psa.outcomes["draw"].unique()) if psa is not None else 0,
        psa_patients=psa.patients if psa is not None else 0,
        headline=headline_table(summary, names, comparison.comparator),
        key_metrics=key.reset_index(drop=True),
        all_metrics=metric_table(summary, names, metrics, comparison.comparator),
        psa_summary=psa_summary.summary if psa_summary is not None else None,
        icer=psa_summary.icer if psa_summary is not None else None,
        cost_effectiveness=cost_effectiveness_table(psa_summary.summary, psa_summary.icer, simulation.economics)
        if psa_summary is not None
        else None,
        resectable_share=float(comparison.patients.drop_duplicates(["replication", "patient_id"])["resectable"].astype(bool).mean()),
        figures=figures,
        comparison_csv=csv_text(summary).encode("utf-8"),
        capacity=planner,
        seconds=simulation.seconds + time.perf_counter() - started,
    )


def run_page(prepared: PreparedScenario, psa_draws: int, psa_patients: int, progress: Progress | None = None) -> PageResult:
    return page_result(simulate(prepared, psa_draws, psa_patients, progress))


def download_files(simulation: Simulation) -> dict[str, bytes]:
    """The run's folders as the CLI writes them (compare/ with report.html, psa/), written by the CLI's
    own writers into a temporary folder: report.html, comparison.csv, scenario.yaml and outputs.zip
    (everything). Built when a download is asked for: the swimmer plots and PSA extras take seconds."""
    started = time.perf_counter()
    prepared = simulation.prepared
    text = scenario_yaml(prepared.scenario)
    with FIGURE_LOCK, tempfile.TemporaryDirectory(prefix="nelm-sim-app-") as temporary:
        folder = Path(temporary)
        scenario_file = folder / PAGE_SCENARIO_FILE
        scenario_file.write_text(text, encoding="utf-8")
        # The folders name the page's scenario file (its SHA-256 is that of the download).
        on_file = dataclasses.replace(prepared, path=scenario_file)
        comparison = dataclasses.replace(simulation.comparison, prepared=on_file)
        write_comparison_folder(
            comparison, folder / COMPARE_FOLDER, False, ["nelm-sim", "compare", PAGE_SCENARIO_FILE], simulation.seconds, text
        )
        psa = simulation.psa
        psa_command = [
            "nelm-sim",
            "psa",
            PAGE_SCENARIO_FILE,
            "--draws",
            str(len(psa.outcomes["draw"].unique()) if psa is not None else 0),
            "--patients",
            str(psa.patients if psa is not None else 0),
        ]
        if psa is not None:  # one strategy: no PSA, no psa/ folder
            write_psa_folder(on_file, psa, simulation.economics, folder / PSA_FOLDER, False, psa_command, started, 1)
        return {
            "report.html": (folder / COMPARE_FOLDER / "report.html").read_bytes(),
            "comparison.csv": (folder / COMPARE_FOLDER / "comparison.csv").read_bytes(),
            PAGE_SCENARIO_FILE: text.encode("utf-8"),
            "outputs.zip": _zip(folder),
        }


def _zip(folder: Path) -> bytes:
    """Every file of the page's run: scenario.yaml, compare/ and psa/ as the CLI writes them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# The seed review's figures (`nelm-sim reproduce`)


@dataclass
class SeedFiguresResult:
    patients: int
    figures: list[tuple[str, str, bytes]]  # key, title, PNG
    targets: pd.DataFrame  # calibration targets of the scenarios behind the figures
    seconds: float


def seed_figures(patients: int, seed_folder: Path, progress: Progress | None = None) -> SeedFiguresResult:
    """Figures 1, 2B, 3A and 3B of the seed review with the published points overlaid, from the
    virtual cohorts and trials of ``seed_folder`` at ``patients`` per arm: the figures and target
    values of `nelm-sim reproduce --patients N` (which also runs the scenarios no figure needs)."""
    from ..experiments.calibrate import load_seed_scenarios, load_targets, measure, simulate
    from ..reporting.seed_figures import SEED_FIGURES, draw_seed_figure

    started = time.perf_counter()
    seeds = load_seed_scenarios(seed_folder)
    needed = list(dict.fromkeys(f.scenario for f in SEED_FIGURES))
    results = {}
    for index, name in enumerate(needed):
        if progress is not None:
            progress(index / len(needed), f"simulating {name}")
        results[name] = simulate(seeds[name], {}, patients)
    if progress is not None:
        progress(1.0, "drawing the figures")
    figures = []
    with FIGURE_LOCK, tempfile.TemporaryDirectory(prefix="nelm-sim-seed-") as temporary:
        for figure in SEED_FIGURES:
            path = Path(temporary) / f"{figure.key}.png"
            draw_seed_figure(figure, results[figure.scenario].patients, path)
            figures.append((figure.key, figure.title, path.read_bytes()))
    rows = []
    for target in load_targets().targets:
        if target.scenario not in results:
            continue
        low, high, rule = target.bounds()
        simulated = measure(target, results[target.scenario])
        rows.append(
            {
                "target": target.id,
                "population": target.population,
                "published": target.published,
                "simulated": simulated,
                "tolerance": rule,
                "lower": low,
                "upper": high,
                "pass": bool(low <= simulated <= high),
            }
        )
    return SeedFiguresResult(patients, figures, pd.DataFrame(rows), time.perf_counter() - started)


def prepare_page_scenario(text: str) -> PreparedScenario:
    """The prepared scenario of a validated page scenario (the cache key is its YAML text)."""
    from .settings import scenario_from_yaml

    return prepare(scenario_from_yaml(text), SETTINGS_LABEL)
