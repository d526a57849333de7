"""A SimPy priority resource with a weekly opening schedule and a monitor of its use and queue.

``ScheduledResource`` is ``simpy.PriorityResource`` with one change: a waiting request is granted
only while the schedule is open (and a server is free). When the queue is waiting for the next
opening, one wake-up is scheduled for that time. The priority rule is SimPy's: the lowest
``priority`` value first, and first come, first served (request time) within a priority.

The monitor records every change of the number of servers in use and of the queue length (a step
function of time), so utilisation, queue length over time and the "never above capacity" check are
exact, not sampled.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from .schedule import WeeklySchedule


class ScheduledResource(simpy.PriorityResource):
    def __init__(self, env: simpy.Environment, name: str, capacity: int, schedule: WeeklySchedule | None = None) -> None:
        super().__init__(env, capacity)
        self.name = name
        self.schedule = schedule
        self._wake_at = math.inf
        # Step function: (time, servers in use, queue length) after each change.
        self.trace: list[tuple[float, int, int]] = [(env.now, 0, 0)]
        self.max_in_use = 0
        self.grants = 0
        self._arrays: tuple[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None  # (trace length, step_arrays())

    # SimPy hooks ------------------------------------------------------------------------------

    def _do_put(self, event) -> bool:  # type: ignore[override]
        now = self._env.now
        if len(self.users) >= self._capacity:
            return False
        if self.schedule is not None and not self.schedule.is_open(now):
            opens = self.schedule.next_open(now)
            if opens < self._wake_at:
                self._wake_at = opens
                self._env.timeout(opens - now).callbacks.append(self._wake)
            return False
        self.users.append(event)
        event.usage_since = now
        event.succeed()
        self.grants += 1
        if len(self.users) > self.max_in_use:
            self.max_in_use = len(self.users)
        return True  # keep granting down the queue while servers are free

    def _wake(self, _event) -> None:
        self._wake_at = math.inf
        self._trigger_put(None)
        self.note()

    def _trigger_put(self, get_event) -> None:  # type: ignore[override]
        super()._trigger_put(get_event)
        self.note()

    def _do_get(self, event) -> None:  # type: ignore[override]
        super()._do_get(event)
        self.note()

    # ------------------------------------------------------------------------------------------

    def note(self) -> None:
        state = (len(self.users), len(self.put_queue))
        last = self.trace[-1]
        if (last[1], last[2]) != state:
            now = self._env.now
            if last[0] == now:
                self.trace[-1] = (now, *state)
            else:
                self.trace.append((now, *state))

    def withdraw(self, request) -> None:
        """Give up a request: leave the queue, or release the server if it was already granted."""
        if request.triggered:
            self.release(request)
        else:
            request.cancel()
            self.note()

    def step_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(times, servers in use, queue length) of the step function, converted once per length of the trace."""
        cached = self._arrays
        if cached is None or cached[0] != len(self.trace):
            times, used, queued = zip(*self.trace)
            cached = self._arrays = (
                len(self.trace),
                (np.asarray(times, dtype=float), np.asarray(used, dtype=float), np.asarray(queued, dtype=float)),
            )
        return cached[1]

    def time_average(self, start: float, end: float) -> tuple[float, float]:
        """(mean servers in use, mean queue length) over [start, end]."""
        used, queued = self.time_averages(np.array([start, end], dtype=float))
        return float(used[0]), float(queued[0])

    def time_averages(self, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mean servers in use, mean queue length) over each interval [edges[i], edges[i + 1]] (NaN
        for an empty one), from the running integral of the step function (zero before the trace starts)."""
        times, used, queued = self.step_arrays()
        edges = np.asarray(edges, dtype=float)
        widths = np.diff(edges)
        piece = np.diff(times)
        means = []
        for level in (used, queued):
            area = np.concatenate([[0.0], np.cumsum(level[:-1] * piece)])  # integral from times[0] to each time
            at = np.searchsorted(times, edges, side="right") - 1
            inside = at >= 0
            integral = np.where(inside, area[np.maximum(at, 0)] + level[np.maximum(at, 0)] * (edges - times[np.maximum(at, 0)]), 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                means.append(np.where(widths > 0, np.diff(integral) / widths, math.nan))
        return means[0], means[1]

    def open_time(self, start: float, end: float) -> float:
        return (end - start) if self.schedule is None else self.schedule.open_time(start, end)

    def busy_integral(self, points: np.ndarray) -> np.ndarray:
        """Server-months in use from the start of the trace to each of ``points``."""
        times, used, _ = self.step_arrays()
        points = np.asarray(points, dtype=float)
        area = np.concatenate([[0.0], np.cumsum(used[:-1] * np.diff(times))])
        at = np.searchsorted(times, points, side="right") - 1
        safe = np.maximum(at, 0)
        return np.where(at >= 0, area[safe] + used[safe] * (points - times[safe]), 0.0)

    def busy_split(self, start: float, end: float) -> tuple[float, float]:
        """(server-months in use while open, server-months in use while closed) over [start, end]: work
        started in a session may run on after it closes (an overrun)."""
        total = float(np.diff(self.busy_integral(np.array([start, end])))[0])
        if self.schedule is None:
            return total, 0.0
        edges = np.array(self.schedule.open_intervals(start, end), dtype=float).reshape(-1, 2)
        in_open = float((self.busy_integral(edges[:, 1]) - self.busy_integral(edges[:, 0])).sum()) if len(edges) else 0.0
        return in_open, max(total - in_open, 0.0)
