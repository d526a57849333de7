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
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from ..economics.sampling import draw_parameters
from ..economics.settings import EconomicSettings
from ..economics.valuation import VALUE_COLUMNS, value_patients
from ..errors import UserInputError
from ..reporting.run_folder import write_file_atomic
from .runner import PreparedScenario, run_replication

PSA_REPLICATION = 0
FIRST_DRAW = 1  # draw 0 is the base case
TASKS_PER_WORKER = 8  # chunks per worker: small enough to balance, large enough to amortise pickling
WORKER_STOP_SECONDS = 10  # after an interruption, how long to wait for a terminated worker to exit
# A worker checks this often whether the main process is still alive: after a kill -9 of the main
# process nothing else ends the workers, which would finish their draws for nobody and keep the
# terminal's pipes open. A second is short beside a draw and costs nothing.
PARENT_CHECK_SECONDS = 1.0


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

    def discard(self) -> None:
        """Delete the checkpoint: only the files it writes, so a folder holding anything else is refused."""
        if not self.folder.exists():
            return
        if not self.folder.is_dir():
            raise CheckpointError(f"{self.folder}: expected a checkpoint folder of nelm-sim, found a file; left untouched")
        for path in [*self.folder.glob(self.DRAW_PATTERN), *self.folder.glob(".*.tmp"), self.folder / self.FINGERPRINT]:
            path.unlink(missing_ok=True)
        try:
            self.folder.rmdir()
        except OSError:
            raise CheckpointError(f"{self.folder}: expected a checkpoint folder of nelm-sim; it holds other files, left untouched") from None


@dataclass
class PSAResult:
    outcomes: pd.DataFrame  # long: draw, strategy, value columns (mean per patient)
    parameters: pd.DataFrame  # draw, one column per drawn parameter
    strategies: list[str]
    patients: int


def run_draw(prepared: PreparedScenario, draw: int, patients: int, settings: EconomicSettings) -> tuple[list[dict], dict[str, float]]:
    """Mean costs, QALYs and life-years per patient of every strategy in one draw, and the drawn values."""
    params, drawn = draw_parameters(prepared.params, prepared.scenario.seed, draw)
    drawn_scenario = replace(prepared, params=params, scenario=prepared.scenario.with_overrides(patients=patients))
    events, patient_table = run_replication(drawn_scenario, PSA_REPLICATION, draw=draw)
    per_patient = value_patients(events, patient_table, params, settings)
    means = per_patient.groupby("strategy", sort=False)[list(VALUE_COLUMNS)].mean()
    outcome = [{"draw": draw, "strategy": s.name, **{c: float(means.at[s.name, c]) for c in VALUE_COLUMNS}} for s in prepared.strategies]
    return outcome, {"draw": draw, **drawn}


def _record_text(draw: int, result: tuple[list[dict], dict[str, float]]) -> str:
    outcome, drawn = result
    return json.dumps({"draw": draw, "outcomes": outcome, "drawn": drawn})


_WORKER_STATE: dict = {}


def _init_worker(prepared: PreparedScenario, patients: int, settings: EconomicSettings) -> None:
    # Ctrl-C reaches every process of the terminal's process group: the main process alone handles it
    # and stops the workers, which would otherwise each print a traceback. SIGTERM (sent by that stop)
    # ends a worker at once, whatever handler it inherited from its parent.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    _WORKER_STATE.update(prepared=prepared, patients=patients, settings=settings)


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # the main process is gone: nobody is left to take this worker's results


def _worker_draws(draws: list[int]) -> list[tuple[int, str]]:
    state = _WORKER_STATE
    return [(d, _record_text(d, run_draw(state["prepared"], d, state["patients"], state["settings"]))) for d in draws]


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now rather than after their current draws."""
    pool.shutdown(wait=False, cancel_futures=True)
    processes = list((getattr(pool, "_processes", None) or {}).values())  # no public API before Python 3.14
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(WORKER_STOP_SECONDS)


def run_psa(
    prepared: PreparedScenario,
    draws: int,
    patients: int,
    workers: int = 1,
    settings: EconomicSettings | None = None,
    checkpoint: PSACheckpoint | None = None,
) -> PSAResult:
    """Run draws 1..``draws``. With ``checkpoint``, draws saved there are not run again and each newly
    completed draw is saved at once; an interruption raises ``RunInterrupted``."""
    settings = settings or EconomicSettings.from_scenario(prepared.scenario)
    indices = list(range(FIRST_DRAW, FIRST_DRAW + draws))
    saved = checkpoint.load() if checkpoint is not None else {}
    records = {d: saved[d] for d in indices if d in saved}
    missing = [d for d in indices if d not in records]

    def _completed(draw: int, text: str) -> None:
        if checkpoint is not None:
            checkpoint.save(draw, text)
        records[draw] = text

    try:
        if workers <= 1 or len(missing) <= 1:
            for d in missing:
                _completed(d, _record_text(d, run_draw(prepared, d, patients, settings)))
        else:
            chunk = max(1, len(missing) // (workers * TASKS_PER_WORKER))
            pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(prepared, patients, settings))
            try:
                pending = {pool.submit(_worker_draws, missing[i : i + chunk]) for i in range(0, len(missing), chunk)}
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        for d, text in future.result():
                            _completed(d, text)
            except BaseException:
                _stop_pool(pool)
                raise
            pool.shutdown()
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
