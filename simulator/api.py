"""The public Python interface: load a scenario, run it, write the folders of the commands.

A facade: everything here is defined in ``simulator.commands`` (one module per command) or in
``simulator.config``; this module only names what is public.
"""

from __future__ import annotations

from .commands.capacity import capacity_file
from .commands.compare import compare_file
from .commands.dsa import run_dsa_file
from .commands.psa import run_psa_file
from .commands.run import ScenarioResult, run_file, run_scenario
from .commands.scenarios import scenarios_file
from .config import Scenario, load_scenario

__all__ = [
    "Scenario",
    "ScenarioResult",
    "capacity_file",
    "compare_file",
    "load_scenario",
    "run_dsa_file",
    "run_file",
    "run_psa_file",
    "run_scenario",
    "scenarios_file",
]
