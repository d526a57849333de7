"""An M/M/c queue run on the project's own ScheduledResource, to verify it against Erlang C.

Customers arrive as a Poisson process, each requests one server of a ``ScheduledResource`` (no
schedule: always open), holds it for an exponential service time and releases it. Waits are
summarised by batch means (Law AM, Simulation Modeling and Analysis, 5th ed. 2015, section 9.5.3):
the run after a warm-up is cut into equal batches by arrival order, and the standard error of the
mean wait is the standard deviation of the batch means over sqrt(batches).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import simpy

from .resource import ScheduledResource
from .schedule import WeeklySchedule


@dataclass
class QueueRun:
    waits: np.ndarray  # wait of each customer after the warm-up, in arrival order
    utilisation: float  # mean busy servers / c over [warmup, end]
    mean_wait: float
    mean_wait_se: float  # batch-means standard error
    utilisation_se: float
    max_in_use: int
    capacity: int

    def wait_quantile(self, q: float) -> float:
        return float(np.quantile(self.waits, q)) if len(self.waits) else math.nan


def simulate_mmc(
    lam: float,
    mu: float,
    c: int,
    duration: float,
    seed: int,
    warmup: float = 0.0,
    batches: int = 20,
    schedule: WeeklySchedule | None = None,
) -> QueueRun:
    """Run the queue for ``duration`` time units and summarise customers arriving after ``warmup``."""
    rng = np.random.Generator(np.random.PCG64(seed))
    env = simpy.Environment()
    resource = ScheduledResource(env, "server", c, schedule)
    arrivals: list[float] = []
    waits: list[float] = []

    def customer(index: int, service: float):
        arrived = env.now
        request = resource.request(priority=1)
        yield request
        waits[index] = env.now - arrived
        yield env.timeout(service)
        resource.release(request)

    def source():
        index = 0
        while True:
            gap, service = rng.exponential(1.0 / lam), rng.exponential(1.0 / mu)
            yield env.timeout(gap)
            if env.now >= duration:
                return
            arrivals.append(env.now)
            waits.append(math.nan)
            env.process(customer(index, service))
            index += 1

    env.process(source())
    env.run(until=duration)
    arrived = np.asarray(arrivals)
    observed = np.asarray(waits)
    keep = (arrived >= warmup) & ~np.isnan(observed)  # customers still queued at the end have no wait yet
    kept = observed[keep]
    busy, _ = resource.time_average(warmup, duration)
    # Batch means of the wait (by arrival order) and of utilisation (by equal time slices).
    wait_batches = np.array([part.mean() for part in np.array_split(kept, batches) if len(part)])
    edges = np.linspace(warmup, duration, batches + 1)
    util_batches = resource.time_averages(edges)[0] / c
    return QueueRun(
        waits=kept,
        utilisation=busy / c,
        mean_wait=float(kept.mean()),
        mean_wait_se=float(wait_batches.std(ddof=1) / math.sqrt(len(wait_batches))),
        utilisation_se=float(util_batches.std(ddof=1) / math.sqrt(len(util_batches))),
        max_in_use=resource.max_in_use,
        capacity=c,
    )
