"""Where independent pieces of work run: in this process, in local worker processes, or on a Dask cluster.

Every task of a run (one replication and strategy, one PSA draw...) depends only on its own
coordinates (seed, replication, draw, patient index), never on which process runs it or when; the
results are put back in task order. So the outputs are identical whatever the number of workers
and whichever executor ran them.

- ``local`` with one worker, or one task: a plain loop in this process.
- ``local`` with N workers: a ``ProcessPoolExecutor`` of N processes.
- ``dask``: ``distributed.Client`` on the scheduler at ``scheduler`` (``tcp://host:port``), or,
  without an address, on a ``LocalCluster`` of N single-threaded worker processes on loopback,
  closed when the work is done.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from ..errors import UserInputError

EXECUTORS = ("local", "dask")
WORKER_STOP_SECONDS = 10  # after an interruption, how long to wait for a terminated worker to exit
# A worker checks this often whether the main process is still alive: after a kill -9 of the main
# process nothing else ends the workers, which would finish their tasks for nobody.
PARENT_CHECK_SECONDS = 1.0
DASK_CONNECT_SECONDS = 30  # how long to wait for a scheduler given by address before giving up
# Each worker is a whole Python process with numpy, pandas and SimPy loaded (about 150 MB before any
# work): 256 of them need some 40 GB, the memory of a large server, which has about that many cores.
# A run never has more tasks than replications x strategies (or PSA chunks), and past the cores more
# processes only add memory. The same bound holds for a local Dask cluster and for a remote one.
MAX_WORKERS = 256


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        return max(1, os.cpu_count() or 1)


def check_workers(workers: int) -> None:
    """Refuse a number of worker processes outside 1..MAX_WORKERS, before any work."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise UserInputError(f"--workers: expected a whole number from 1 to {MAX_WORKERS}, got {workers}")


@dataclass(frozen=True)
class Execution:
    workers: int = 1
    executor: str = "local"
    scheduler: str | None = None  # Dask scheduler address; None starts a local cluster

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise UserInputError(f"--executor: expected one of {', '.join(EXECUTORS)}, got {self.executor!r}")
        if self.scheduler is not None and self.executor != "dask":
            raise UserInputError("--scheduler: expected only with --executor dask")
        check_workers(self.workers)

    def map(self, function: Callable[[Any], Any], tasks: Sequence[Any], on_done: Callable[[int, Any], None] | None = None) -> list:
        """``[function(t) for t in tasks]``, computed wherever this execution says; ``on_done(i, result)``
        is called in the main process as each task finishes (in completion order)."""
        tasks = list(tasks)
        if self.executor == "dask":
            return _map_dask(function, tasks, on_done, self.workers, self.scheduler)
        if self.workers <= 1 or len(tasks) <= 1:
            results = []
            for index, task in enumerate(tasks):
                results.append(function(task))
                if on_done is not None:
                    on_done(index, results[-1])
            return results
        return _map_processes(function, tasks, on_done, min(self.workers, len(tasks)))


SERIAL = Execution()


def progress_counter(
    progress: Callable[[int, int, str], None] | None, total: int, label: str | Callable[[int], str]
) -> Callable[[int, Any], None] | None:
    """An ``on_done`` for ``Execution.map`` that reports tasks finished so far to ``progress(done, total,
    label)``; ``label`` may be a function of the finished task's index."""
    if progress is None:
        return None
    finished = [0]

    def _done(index: int, result: Any) -> None:
        finished[0] += 1
        progress(finished[0], total, label(index) if callable(label) else label)

    return _done


# ------------------------------------------------------------------------------ local processes


def init_worker() -> None:
    """Run in each worker process when it starts.

    Ctrl-C reaches every process of the terminal's process group: the main process alone handles
    it and stops the workers, which would otherwise each print a traceback. SIGTERM (sent by that
    stop) ends a worker at once, whatever handler it inherited from its parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os._exit(1)  # the main process is gone: nobody is left to take this worker's results


def stop_pool(pool: ProcessPoolExecutor, older: frozenset[int] = frozenset()) -> None:
    """Cancel what has not started and end the workers now rather than after their current tasks.

    Every child process started since the pool was made (``older``: the pids that were alive before)
    is ended, not only those the pool has recorded: an interruption that lands while the pool starts a
    worker leaves it started but unrecorded, waiting for work forever, and Python's exit then waits
    for it (seen by the signal fuzz as a command that printed its line and never ended)."""
    pool.shutdown(wait=False, cancel_futures=True)
    recorded = list((getattr(pool, "_processes", None) or {}).values())  # no public API before Python 3.14
    unrecorded = [child for child in multiprocessing.active_children() if child.pid not in older and child not in recorded]
    processes = recorded + unrecorded
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(WORKER_STOP_SECONDS)


def _map_processes(function, tasks, on_done, workers: int) -> list:
    results: list = [None] * len(tasks)
    older = frozenset(child.pid for child in multiprocessing.active_children())
    pool = ProcessPoolExecutor(max_workers=workers, initializer=init_worker)
    try:
        futures = {pool.submit(function, task): index for index, task in enumerate(tasks)}
        pending = set(futures)
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(finished, key=futures.__getitem__):
                index = futures[future]
                results[index] = future.result()
                if on_done is not None:
                    on_done(index, results[index])
    except BaseException:
        stop_pool(pool, older)
        raise
    pool.shutdown()
    return results


# ------------------------------------------------------------------------------ Dask


def _map_dask(function, tasks, on_done, workers: int, scheduler: str | None) -> list:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:  # pragma: no cover - distributed is a declared dependency
        raise UserInputError("--executor dask: expected the dask distributed package to be installed") from None
    cluster = None
    try:
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=max(1, min(workers, len(tasks))),  # like local processes: no more workers than tasks
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address="127.0.0.1:0",
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
        else:
            try:
                client = Client(scheduler, timeout=DASK_CONNECT_SECONDS)
            except (OSError, TimeoutError, ValueError) as exc:
                raise UserInputError(
                    f"--scheduler: expected the address of a running Dask scheduler, could not connect to {scheduler} ({exc})"
                ) from None
        with client:
            futures = client.map(function, tasks, pure=False)
            index_of = {future.key: index for index, future in enumerate(futures)}
            for future in as_completed(futures):
                if on_done is not None:
                    on_done(index_of[future.key], future.result())
            return client.gather(futures)
    finally:
        if cluster is not None:
            cluster.close()
