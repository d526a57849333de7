"""A patient's own clock, for runs in which patients share nothing.

Without shared resources no patient's course can depend on another's, so the order in which SimPy
would interleave their events changes nothing but the order of rows in the event log. Each patient's
process generator then runs start to finish on its own clock: ``timeout(delay)`` moves the clock at
once and the yield returns straight away. The generator code is the very one the SimPy scheduler
drives (``PathwayModel(..., scheduler="simpy")``), and a test shows both schedulers give the same
patient histories; this one skips the event queue, which is most of SimPy's cost per event.
"""

from __future__ import annotations


class PatientClock:
    __slots__ = ("now",)

    def __init__(self) -> None:
        self.now = 0.0

    def timeout(self, delay: float) -> None:
        # The same float addition SimPy does when it schedules a timeout (now + delay).
        self.now = self.now + delay
