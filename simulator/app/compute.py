"""The page's computations, as plain functions (no Streamlit here): a strategy comparison and a small
PSA run exactly as `nelm-sim compare` and `nelm-sim psa` run them, written with the same folder writers
into a temporary folder, and the seed review's figures as `nelm-sim reproduce` draws them.

Results are plain data (tables and file bytes), so the page can cache them.
"""

from __future__ import annotations

import dataclasses
import io
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from ..economics.outputs import write_psa_folder
from ..economics.settings import EconomicSettings
from ..errors import ModelLimitError, ScenarioError
from ..experiments.compare import Comparison, run_comparison
from ..experiments.psa import run_psa
from ..experiments.runner import PreparedScenario, prepare
from ..outcomes.metrics import metric_info
from ..reporting.compare_folder import write_comparison_folder
from ..reporting.tables import headline_table, metric_table
from . import capacity
from .settings import SETTINGS_LABEL, scenario_yaml

Progress = Callable[[float, str], None]  # (fraction done, what is running)

PAGE_SCENARIO_FILE = "scenario.yaml"
COMPARE_FOLDER = "compare"
PSA_FOLDER = "psa"
# Figures of the comparison folder the page shows, by role.
FIGURES = {
    "km_os": f"{COMPARE_FOLDER}/figures/km_overall_survival.png",
    "km_pfs": f"{COMPARE_FOLDER}/figures/km_progression_free_survival.png",
    "symptoms": f"{COMPARE_FOLDER}/figures/symptom_control.png",
    "hazard_ratios": f"{COMPARE_FOLDER}/figures/hazard_ratios.png",
    "occupancy": f"{COMPARE_FOLDER}/figures/state_occupancy.png",
    "ce_plane": f"{PSA_FOLDER}/figures/ce_plane.png",
    "ceac": f"{PSA_FOLDER}/figures/ceac.png",
}
# The numbers of the headline table, as numbers (the page's second table and the tests read these).
KEY_METRICS = ("median_os_months", "os_5y", "rmst_os_months", "hr_os_vs_comparator", "median_pfs1_months", "mean_months_uncontrolled")


@dataclass
class PageResult:
    scenario_yaml: str
    strategies: list[str]
    comparator: str
    replications: int
    patients: int
    psa_draws: int
    psa_patients: int
    headline: pd.DataFrame  # as `nelm-sim compare` prints it
    key_metrics: pd.DataFrame  # strategy, metric, label, unit, estimate, lower_95, upper_95
    all_metrics: pd.DataFrame  # every metric: rows, strategies as columns, 'estimate [CI]'
    psa_summary: pd.DataFrame  # psa_summary.csv
    icer: pd.DataFrame  # icer.csv of the PSA
    resectable_share: float  # resectable at entry, in the simulated cohort
    figures: dict[str, bytes]
    files: dict[str, bytes]  # downloads: name -> bytes
    resource_waits: pd.DataFrame | None
    seconds: float


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


def _blame_parameters(run: Callable[[], object]):
    try:
        return run()
    except ModelLimitError as exc:  # a safety limit hit while simulating: as the CLI reports it
        raise ScenarioError(SETTINGS_LABEL, "parameters", exc.expected) from None


def run_page(prepared: PreparedScenario, psa_draws: int, psa_patients: int, progress: Progress | None = None) -> PageResult:
    """Compare the strategies (as `nelm-sim compare`) and run the PSA (as `nelm-sim psa --draws
    psa_draws --patients psa_patients`) of a validated scenario; write both folders with the CLI's
    writers into a temporary folder and keep their tables and files."""
    started = time.perf_counter()
    scenario = prepared.scenario
    names = [s.name for s in prepared.strategies]
    # Progress weighted by simulated lifetimes: a compare step is one strategy of one replication,
    # a PSA draw every strategy for psa_patients patients.
    compare_weight = scenario.cohort.size
    total = scenario.replications * len(names) * compare_weight + psa_draws * len(names) * psa_patients

    def report(done: float, label: str) -> None:
        if progress is not None:
            progress(min(done / total, 1.0), label)

    def compare_tick(done: int, _total: int, label: str) -> None:
        report(done * compare_weight, f"comparison: {label}")

    comparison: Comparison = _blame_parameters(lambda: run_comparison(prepared, progress=compare_tick))
    compare_done = scenario.replications * len(names) * compare_weight
    settings = EconomicSettings.from_scenario(scenario)
    tracker = _PSAProgress(lambda k: report(compare_done + k * len(names) * psa_patients, f"cost-effectiveness: PSA draw {k} of {psa_draws}"))
    psa = _blame_parameters(lambda: run_psa(prepared, psa_draws, psa_patients, 1, settings, tracker))  # type: ignore[arg-type]
    report(total, "writing figures and report")
    text = scenario_yaml(scenario)
    with tempfile.TemporaryDirectory(prefix="nelm-sim-app-") as temporary:
        folder = Path(temporary)
        scenario_file = folder / PAGE_SCENARIO_FILE
        scenario_file.write_text(text, encoding="utf-8")
        # The folders name the page's scenario file (its SHA-256 is that of the download).
        on_file = dataclasses.replace(prepared, path=scenario_file)
        command = ["nelm-sim", "compare", PAGE_SCENARIO_FILE]
        write_comparison_folder(dataclasses.replace(comparison, prepared=on_file), folder / COMPARE_FOLDER, False, command,
                                time.perf_counter() - started, text)
        psa_command = ["nelm-sim", "psa", PAGE_SCENARIO_FILE, "--draws", str(psa_draws), "--patients", str(psa_patients)]
        write_psa_folder(on_file, psa, settings, folder / PSA_FOLDER, False, psa_command, started, 1)
        figures = {role: (folder / relative).read_bytes() for role, relative in FIGURES.items()}
        files = {
            "report.html": (folder / COMPARE_FOLDER / "report.html").read_bytes(),
            "comparison.csv": (folder / COMPARE_FOLDER / "comparison.csv").read_bytes(),
            PAGE_SCENARIO_FILE: text.encode("utf-8"),
            "outputs.zip": _zip(folder),
        }
        psa_summary = pd.read_csv(folder / PSA_FOLDER / "psa_summary.csv")
        icer = pd.read_csv(folder / PSA_FOLDER / "icer.csv")
    summary = comparison.summary
    key = summary[summary["metric"].isin(KEY_METRICS)][["strategy", "metric", "label", "unit", "estimate", "lower_95", "upper_95"]]
    metrics = [m for m in summary["metric"].unique() if metric_info(m)[2] != "other"]
    return PageResult(
        scenario_yaml=text,
        strategies=names,
        comparator=comparison.comparator,
        replications=comparison.replications,
        patients=scenario.cohort.size,
        psa_draws=psa_draws,
        psa_patients=psa_patients,
        headline=headline_table(summary, names, comparison.comparator),
        key_metrics=key.reset_index(drop=True),
        all_metrics=metric_table(summary, names, metrics),
        psa_summary=psa_summary,
        icer=icer,
        resectable_share=float(comparison.patients.drop_duplicates(["replication", "patient_id"])["resectable"].astype(bool).mean()),
        figures=figures,
        files=files,
        resource_waits=capacity.resource_waits(comparison),
        seconds=time.perf_counter() - started,
    )


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
    with tempfile.TemporaryDirectory(prefix="nelm-sim-seed-") as temporary:
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
        rows.append({"target": target.id, "population": target.population, "published": target.published, "simulated": simulated,
                     "tolerance": rule, "lower": low, "upper": high, "pass": bool(low <= simulated <= high)})
    return SeedFiguresResult(patients, figures, pd.DataFrame(rows), time.perf_counter() - started)


def prepare_page_scenario(text: str) -> PreparedScenario:
    """The prepared scenario of a validated page scenario (the cache key is its YAML text)."""
    from .settings import scenario_from_yaml

    return prepare(scenario_from_yaml(text), SETTINGS_LABEL)
