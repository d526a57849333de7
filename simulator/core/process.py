"""The type of a patient's waiting steps, shared by the engine and the modalities below it."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

# A generator the patient process delegates to with ``yield from``: it yields SimPy timeouts and
# returns True when the whole wait passed with the patient alive and followed.
Waiting = Generator[Any, Any, bool]
