"""What the engine asks of a care policy: the narrow seam through which shared hospital resources
(``simulator/capacity/hospital.py``) plug into the one patient process.

The engine never imports the capacity layer: the caller builds a policy (a ``Hospital``) and hands it
to ``PathwayModel``. Without a policy the model runs each patient on its own clock and none of these
hooks is called; with one, ``PathwayModel.patient_process`` calls them at entry, before each decision,
before each treatment and after it, and the policy's courses call ``before_session`` (``Course``) before
every later session or cycle.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Protocol

from ..core.process import Waiting

if TYPE_CHECKING:  # pragma: no cover
    from ..pathways.base import Modality
    from .cohort import Patient
    from .course import Course
    from .model import PathwayModel


class CarePolicy(Protocol):
    def attach(self, model: PathwayModel) -> None:
        """Bind to the model that will run the patients (its shared environment, parameters, strategy)."""

    def new_course(self, model: PathwayModel, patient: Patient, index: int) -> Course:
        """The course of the ``index``-th patient of the cohort, on the policy's clock."""
        ...

    def arrive(self, course: Course) -> Generator[Any, Any, None]:
        """Wait until the patient arrives (open populations)."""
        ...

    def before_decision(self, course: Course) -> Waiting:
        """Before each treatment decision (e.g. a multidisciplinary meeting)."""
        ...

    def admit(self, course: Course, modality: Modality) -> Waiting:
        """Before the first session of ``modality``; False if the patient left the queue (the decision is retaken)."""
        ...

    def after_treatment(self, course: Course) -> None:
        """The treatment's ``deliver`` returned: release whatever is still held for it."""
