"""Probabilistic sensitivity analysis: one simulated cohort per parameter draw, every strategy.

Draw d (1, 2, ...; 0 is the deterministic base case) draws every parameter that has a ``psa:``
field (``economics.sampling.draw_parameters``), builds a cohort of ``patients`` patients from
``RandomStreams(seed, 0, d)``, runs every strategy on it with common random numbers and values the
event log. A draw depends only on the scenario seed and its index, so the draws can be spread over
worker processes; results are merged in draw order, which makes the outputs identical whatever the
number of workers.

Resumable runs: with a ``PSACheckpoint``, every completed draw is saved as one small JSON file
(written atomically), so a run stopped by Ctrl-C, SIGTERM or kill -9 loses at most the draws in
progress. A resumed run loads the saved draws and runs only the missing ones. Every draw, saved or
not, goes through the same JSON text (``repr`` of each float, which round-trips exactly), so the
outputs of a resumed run are byte for byte those of an uninterrupted one.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..economics import cea
from ..economics.evppi import evppi_table
from ..economics.sampling import POSTERIOR_ROW, draw_parameters
from ..economics.settings import EconomicSettings
from ..economics.severity import shortfall
from ..economics.valuation import GENERAL_POPULATION, VALUE_COLUMNS, value_patients
from ..errors import UserInputError
from ..io import write_file_atomic
from ..params.parameter_set import ParameterSet
from .execution import Execution

# Re-exported where they were: they live in experiments/prepare.py, which loads no pandas.
from .prepare import FIRST_DRAW as FIRST_DRAW
from .prepare import check_first_draw as check_first_draw
from .runner import PreparedScenario, run_replication

PSA_REPLICATION = 0
NOT_PARAMETERS = ("psa_redraws", POSTERIOR_ROW)  # psa_parameters.csv columns that record how a draw was made
INTERVAL_QUANTILES = (0.025, 0.975)  # the 95% interval of PSA draws
TASKS_PER_WORKER = 8  # chunks per worker: small enough to balance, large enough to amortise pickling


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped a PSA run; ``completed`` of ``total`` draws are in its checkpoint."""

    def __init__(self, completed: int, total: int) -> None:
        super().__init__(f"interrupted after {completed} of {total} draws")
        self.completed = completed
        self.total = total


class CheckpointError(UserInputError):
    pass


class PSACheckpoint:
    """A folder of completed draws: ``fingerprint.json`` (what run they belong to) and one
    ``draw-<index>.json`` per draw, each written atomically."""

    FINGERPRINT = "fingerprint.json"
    DRAW_PATTERN = "draw-*.json"
    EVENTS_PATTERN = "events-*.parquet"  # with --keep-events: each draw's event log

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def exists(self) -> bool:
        return self.folder.exists()

    def _draw_file(self, draw: int) -> Path:
        return self.folder / f"draw-{draw:07d}.json"

    def fingerprint(self) -> dict | None:
        try:
            data = json.loads((self.folder / self.FINGERPRINT).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def start(self, fingerprint: dict) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.fingerprint() != fingerprint:
            write_file_atomic(self.folder / self.FINGERPRINT, json.dumps(fingerprint, indent=2, sort_keys=True) + "\n")

    def load(self) -> dict[int, str]:
        """The saved draws by index, as their JSON text. A file that cannot be read is left out (that
        draw runs again); temporary files of a write cut short are removed."""
        records: dict[int, str] = {}
        if not self.folder.is_dir():
            return records
        for stray in self.folder.glob(".*.tmp"):
            stray.unlink(missing_ok=True)
        for path in sorted(self.folder.glob(self.DRAW_PATTERN)):
            try:
                text = path.read_text(encoding="utf-8")
                draw = json.loads(text)["draw"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            if isinstance(draw, int) and path == self._draw_file(draw):
                records[draw] = text
        return records

    def save(self, draw: int, text: str) -> None:
        write_file_atomic(self._draw_file(draw), text)

    def events_file(self, draw: int) -> Path:
        return self.folder / f"events-{draw:07d}.parquet"

    def save_events(self, draw: int, events: pd.DataFrame) -> None:
        staging = self.folder / f".events-{draw:07d}.tmp"
        events.to_parquet(staging, index=False)
        os.replace(staging, self.events_file(draw))

    def discard(self) -> None:
        """Delete the checkpoint: only the files it writes, so a folder holding anything else is refused."""
        if not self.folder.exists():
            return
        if not self.folder.is_dir():
            raise CheckpointError(f"{self.folder}: expected a checkpoint folder of nelm-sim, found a file; left untouched")
        for path in [
            *self.folder.glob(self.DRAW_PATTERN),
            *self.folder.glob(self.EVENTS_PATTERN),
            *self.folder.glob(".*.tmp"),
            self.folder / self.FINGERPRINT,
        ]:
            path.unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            raise CheckpointError(
                f"{self.folder}: expected a checkpoint folder of nelm-sim; it holds other files, left untouched"
            ) from None


@dataclass
class PSAResult:
    outcomes: pd.DataFrame  # long: draw, strategy, value columns (mean per patient)
    parameters: pd.DataFrame  # draw, one column per drawn parameter
    strategies: list[str]
    patients: int


def run_draw(
    prepared: PreparedScenario, draw: int, patients: int, settings: EconomicSettings, keep_events: list | None = None
) -> tuple[list[dict], dict[str, float]]:
    """Mean costs, QALYs and life-years per patient of every strategy in one draw, and the drawn values."""
    params, drawn = draw_parameters(prepared.params, prepared.scenario.seed, draw)
    drawn_scenario = replace(prepared, params=params, scenario=prepared.scenario.with_overrides(patients=patients))
    events, patient_table = run_replication(drawn_scenario, PSA_REPLICATION, draw=draw)
    per_patient = value_patients(events, patient_table, params, settings)
    if keep_events is not None:
        keep_events.append(events.assign(draw=draw))
    means = per_patient.groupby("strategy", sort=False)[list(VALUE_COLUMNS)].mean()
    outcome = [{"draw": draw, "strategy": s.name, **{c: float(means.at[s.name, c]) for c in VALUE_COLUMNS}} for s in prepared.strategies]
    return outcome, {"draw": draw, **drawn}


def _record_text(draw: int, result: tuple[list[dict], dict[str, float]]) -> str:
    outcome, drawn = result
    return json.dumps({"draw": draw, "outcomes": outcome, "drawn": drawn})


def _draws_task(task: tuple) -> list[tuple[int, str, pd.DataFrame | None]]:
    prepared, patients, settings, draws, keep_events = task
    results = []
    for d in draws:
        kept: list[pd.DataFrame] = []
        text = _record_text(d, run_draw(prepared, d, patients, settings, kept if keep_events else None))
        results.append((d, text, kept[0] if kept else None))
    return results


def run_psa(
    prepared: PreparedScenario,
    draws: int,
    patients: int,
    workers: int = 1,
    settings: EconomicSettings | None = None,
    checkpoint: PSACheckpoint | None = None,
    execution: Execution | None = None,
    progress=None,
    keep_events: bool = False,
) -> PSAResult:
    """Run draws 1..``draws``. With ``checkpoint``, draws saved there are not run again and each newly
    completed draw is saved at once; an interruption raises ``RunInterrupted``."""
    execution = execution or Execution(workers=workers)
    settings = settings or EconomicSettings.from_scenario(prepared.scenario)
    indices = list(range(FIRST_DRAW, FIRST_DRAW + draws))
    saved = checkpoint.load() if checkpoint is not None else {}
    records = {d: saved[d] for d in indices if d in saved}
    missing = [d for d in indices if d not in records]
    # Small tasks balance the workers; a few draws each amortise sending the scenario along.
    size = (
        max(1, len(missing) // (max(execution.workers, 1) * TASKS_PER_WORKER))
        if execution.workers > 1 or execution.executor == "dask"
        else 1
    )
    if keep_events and checkpoint is None:
        raise ValueError("keep_events needs a checkpoint folder to hold the event logs")
    tasks = [(prepared, patients, settings, missing[i : i + size], keep_events) for i in range(0, len(missing), size)]

    def _completed(index: int, results: list[tuple[int, str, pd.DataFrame | None]]) -> None:
        for draw, text, events in results:
            if events is not None:
                checkpoint.save_events(draw, events)  # before the draw's record: a saved draw always has its log
            if checkpoint is not None:
                checkpoint.save(draw, text)
            records[draw] = text
        if progress is not None:
            progress(len(records), draws, "draws")

    try:
        execution.map(_draws_task, tasks, _completed)
    except KeyboardInterrupt:
        # Counted from the checkpoint: the interruption may fall between saving a draw and noting it.
        completed = len(set(checkpoint.load()) & set(indices)) if checkpoint is not None else len(records)
        raise RunInterrupted(completed, draws) from None
    loaded = [json.loads(records[d]) for d in indices]
    outcomes = pd.DataFrame([row for record in loaded for row in record["outcomes"]])
    parameters = pd.DataFrame([record["drawn"] for record in loaded])  # each starts with its "draw"
    return PSAResult(outcomes, parameters, [s.name for s in prepared.strategies], patients)


def draws_matrix(outcomes: pd.DataFrame, strategies: list[str], column: str) -> pd.DataFrame:
    """(draws x strategies) table of one value column."""
    return outcomes.pivot(index="draw", columns="strategy", values=column)[strategies]


@dataclass
class PSASummary:
    summary: pd.DataFrame
    icer: pd.DataFrame
    ceac: pd.DataFrame
    evpi: pd.DataFrame
    comparator: str
    grid: list[float]
    acceptability: np.ndarray
    best: np.ndarray
    population: float
    decision: pd.DataFrame  # per willingness to pay: the best strategy, the runner-up and whether draws resolve them
    evppi: pd.DataFrame  # per willingness to pay, parameter and group (economics/evppi.py)


def summarise_psa(result: PSAResult, settings: EconomicSettings, params: ParameterSet) -> PSASummary:
    names = result.strategies
    costs = draws_matrix(result.outcomes, names, "costs")
    qalys = draws_matrix(result.outcomes, names, "qalys")
    comparator = settings.comparator or cea.default_comparator(names, costs.mean(), qalys.mean())
    grid = settings.wtp_grid()
    acceptability = cea.ceac(costs.to_numpy(), qalys.to_numpy(), grid)
    expected = cea.expected_nmb(costs.to_numpy(), qalys.to_numpy(), grid)
    best, best_probability = cea.ceaf(costs.to_numpy(), qalys.to_numpy(), grid)
    evpi = cea.evpi(costs.to_numpy(), qalys.to_numpy(), grid)
    population = settings.decision_population(params)

    rows = []
    at_wtp = cea.ceac(costs.to_numpy(), qalys.to_numpy(), settings.willingness_to_pay)
    for index, name in enumerate(names):
        row: dict[str, object] = {"strategy": name, "draws": len(costs)}
        for column in ("costs", "qalys", "life_years"):
            values = draws_matrix(result.outcomes, names, column)[name]
            row[column] = values.mean()
            row[f"{column}_lower_95"], row[f"{column}_upper_95"] = values.quantile(list(INTERVAL_QUANTILES)).to_numpy()
            row[f"{column}_se"] = standard_error(values.to_numpy())
        for value in settings.willingness_to_pay:
            # Incremental net benefit against the comparator, paired draw by draw (common random numbers).
            incremental = (qalys[name] - qalys[comparator]) * value - (costs[name] - costs[comparator])
            row[f"inmb_{value:g}"] = incremental.mean()
            row[f"inmb_se_{value:g}"] = standard_error(incremental.to_numpy())
        for k, value in enumerate(settings.willingness_to_pay):
            row[f"probability_cost_effective_{value:g}"] = at_wtp[k, index]
        if GENERAL_POPULATION in result.outcomes.columns:  # severity, from the means as economics.csv takes it
            general = float(draws_matrix(result.outcomes, names, GENERAL_POPULATION)[name].mean())
            row[GENERAL_POPULATION] = general
            row["qaly_shortfall_absolute"], row["qaly_shortfall_proportional"], row["severity_weight"] = shortfall(
                general, float(row["qalys"])
            )
        rows.append(row)
    ceac_rows = [
        {
            "wtp": value,
            "strategy": name,
            "probability_cost_effective": acceptability[w, s],
            "expected_nmb": expected[w, s],
            "optimal": int(best[w] == s),
        }
        for w, value in enumerate(grid)
        for s, name in enumerate(names)
    ]
    decision = decision_table(costs, qalys, settings.willingness_to_pay, result.patients)
    drawn = result.parameters.set_index("draw").reindex(costs.index)
    drawn = drawn[[c for c in drawn.columns if c not in NOT_PARAMETERS]]
    evppi = evppi_table(costs.to_numpy(), qalys.to_numpy(), drawn, settings.willingness_to_pay, population)
    evpi_table = pd.DataFrame({"wtp": grid, "evpi_per_patient": evpi, "population": population, "evpi_population": evpi * population})
    return PSASummary(
        pd.DataFrame(rows),
        cea.icer_table(names, costs.mean().to_numpy(), qalys.mean().to_numpy(), settings.willingness_to_pay, comparator),
        pd.DataFrame(ceac_rows),
        evpi_table,
        comparator,
        grid,
        acceptability,
        best,
        population,
        decision,
        evppi,
    )


def standard_error(values: np.ndarray) -> float:
    """Monte Carlo standard error of a mean over draws (0 with a single draw: nothing to estimate it from)."""
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else float("nan")


RESOLVED_Z = 1.959963984540054  # the decision is resolved when the best leads the runner-up by 1.96 SEs


def decision_table(costs: pd.DataFrame, qalys: pd.DataFrame, wtp: tuple[float, ...] | list[float], patients: int) -> pd.DataFrame:
    """Per willingness to pay: the strategy with the highest mean net benefit, the runner-up, their
    paired difference and its Monte Carlo SE, whether the draws resolve the choice (difference > 1.96
    SE) and, if not, about how many draws would (the SE falls with the square root of the draws;
    more patients per draw also lower it, by shrinking each draw's first-order noise)."""
    rows = []
    draws = len(costs)
    for value in wtp:
        nmb = qalys * value - costs
        order = nmb.mean().sort_values(ascending=False)
        if len(order) < 2:
            continue
        best, runner_up = str(order.index[0]), str(order.index[1])
        difference = nmb[best] - nmb[runner_up]
        se = standard_error(difference.to_numpy())
        lead = float(difference.mean())
        resolved = bool(np.isfinite(se) and lead > RESOLVED_Z * se)
        needed = float(np.ceil(draws * (RESOLVED_Z * se / lead) ** 2)) if lead > 0 and np.isfinite(se) else float("inf")
        rows.append(
            {
                "wtp": value,
                "best": best,
                "runner_up": runner_up,
                "nmb_difference": lead,
                "nmb_difference_se": se,
                "resolved": resolved,
                "draws": draws,
                "patients_per_draw": patients,
                "draws_needed": max(needed, float(draws)) if not resolved else float(draws),
            }
        )
    return pd.DataFrame(rows)
