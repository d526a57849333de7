"""Theatre capacity and resource waits on the page: dormant until the model has resources.

Capacity modelling (issue 7) is wired here: ``capacity_supported()`` is True once the scenario schema
has its ``capacity`` section; the theatre-capacity control shows for a scenario that configures a
theatre (``capacity.resources.theatre``), and the "resource waits" panel for a run with resources.
The hooks as first planned:

1. ``capacity_supported``: keep the feature check, or test for the merged API directly;
2. ``THEATRE_CAPACITY_FIELD``: the scenario field that holds theatre capacity (a path under
   ``resources``) and ``theatre_capacity_default``: read its default from the scenario or the
   parameter library (no number here: provenance rule);
3. ``resource_waits``: the table of waits per strategy and resource from the comparison's result.

The rest of the page already passes the control's value into the scenario mapping
(``settings.scenario_data``) and shows ``resource_waits`` when it returns a table.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..config import Scenario

CAPACITY_FIELD = "capacity"  # the scenario's capacity section (README "Capacity planning")
THEATRE_CAPACITY_FIELD = (CAPACITY_FIELD, "resources", "theatre", "capacity")
THEATRE_CAPACITY_RANGE = (1.0, 50.0, 1.0)  # UI choice: minimum, maximum, step (theatres in parallel; the schema needs >= 1)
THEATRE_CAPACITY_LABEL = "Theatre capacity"
THEATRE_CAPACITY_UNIT = "operating theatres available in parallel"


def capacity_supported() -> bool:
    """True once scenarios can describe resources (issue 7); the page then shows the capacity control
    for a scenario that configures a theatre."""
    return CAPACITY_FIELD in Scenario.model_fields


def theatre_capacity_default(scenario: Scenario) -> float | None:
    """The scenario's theatre capacity, or None when the scenario does not model it."""
    if not capacity_supported():
        return None
    node: Any = scenario
    for part in THEATRE_CAPACITY_FIELD:
        node = node.get(part) if isinstance(node, dict) else getattr(node, part, None)
        if node is None:
            return None
    return float(node)


def apply_theatre_capacity(data: dict, value: float) -> None:
    """Write the control's value into the scenario mapping (validated with the rest of it)."""
    node = data
    for part in THEATRE_CAPACITY_FIELD[:-1]:
        node = node.setdefault(part, {})
    node[THEATRE_CAPACITY_FIELD[-1]] = int(round(value))  # a whole number of theatres (the slider gives floats)


def resource_waits(comparison: Any) -> pd.DataFrame | None:
    """Waits for resources per strategy, when the comparison carries them (issue 7), else None."""
    if not capacity_supported():
        return None
    tables = getattr(comparison, "capacity", None)
    if tables is None or not hasattr(tables, "frame"):
        return None
    from ..reporting.capacity_report import resource_summary

    return resource_summary(tables.frame("resources"))
