"""Weekly opening schedules of hospital resources, in model time (months).

Time 0 of a run is Monday 00:00. A schedule is a list of sessions (day of the week, start hour,
length in hours); a resource starts new work only while one of its sessions is open (work already
started runs on past the close). No schedule means always open.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass

# Calendar identities, not model parameters: the model's time unit is the month (README "Capacity planning").
DAYS_PER_MONTH = 365.25 / 12  # the mean Gregorian month (same constant as pathways.base)
DAYS_PER_WEEK = 7.0
HOURS_PER_DAY = 24.0
MINUTES_PER_HOUR = 60.0
MONTHS_PER_YEAR = 12.0
WEEK_MONTHS = DAYS_PER_WEEK / DAYS_PER_MONTH
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def days_to_months(days: float) -> float:
    return days / DAYS_PER_MONTH


def months_to_days(months: float) -> float:
    return months * DAYS_PER_MONTH


def hours_to_months(hours: float) -> float:
    return hours / HOURS_PER_DAY / DAYS_PER_MONTH


def minutes_to_months(minutes: float) -> float:
    return minutes / MINUTES_PER_HOUR / HOURS_PER_DAY / DAYS_PER_MONTH


@dataclass(frozen=True)
class WeeklySchedule:
    """Open intervals within one week, as (start, end) in months from Monday 00:00, merged and sorted."""

    intervals: tuple[tuple[float, float], ...]

    @classmethod
    def from_sessions(cls, sessions: list[tuple[int, float, float]]) -> WeeklySchedule:
        """``sessions``: (day index 0 = Monday, start hour, hours). A session may run past midnight
        (and past Sunday into Monday)."""
        raw: list[tuple[float, float]] = []
        for day, start, hours in sessions:
            begin = hours_to_months((day * HOURS_PER_DAY) + start)
            end = begin + hours_to_months(hours)
            if end <= WEEK_MONTHS:
                raw.append((begin, end))
            else:  # wraps into next week
                raw.append((begin, WEEK_MONTHS))
                raw.append((0.0, end - WEEK_MONTHS))
        raw.sort()
        merged: list[list[float]] = []
        for begin, end in raw:
            if merged and begin <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([begin, end])
        return cls(tuple((a, b) for a, b in merged))

    def open_share(self) -> float:
        return sum(b - a for a, b in self.intervals) / WEEK_MONTHS

    def is_open(self, t: float) -> bool:
        return self.next_open(t) == t

    def next_open(self, t: float) -> float:
        """The earliest time >= t at which the resource is open (t itself when open)."""
        if not self.intervals:
            return math.inf
        week = math.floor(t / WEEK_MONTHS)
        offset = t - week * WEEK_MONTHS
        starts = [a for a, _ in self.intervals]
        index = bisect.bisect_right(starts, offset) - 1
        if index >= 0 and offset < self.intervals[index][1]:
            return t
        if index + 1 < len(self.intervals):
            return week * WEEK_MONTHS + self.intervals[index + 1][0]
        return (week + 1) * WEEK_MONTHS + self.intervals[0][0]

    def open_intervals(self, start: float, end: float) -> list[tuple[float, float]]:
        """The open intervals within [start, end], in order."""
        found: list[tuple[float, float]] = []
        if end <= start:
            return found
        week = math.floor(start / WEEK_MONTHS)
        while week * WEEK_MONTHS < end:
            base = week * WEEK_MONTHS
            for a, b in self.intervals:
                lo, hi = max(start, base + a), min(end, base + b)
                if hi > lo:
                    found.append((lo, hi))
            week += 1
        return found

    def open_time(self, start: float, end: float) -> float:
        """Months open within [start, end]."""
        return sum(hi - lo for lo, hi in self.open_intervals(start, end))
