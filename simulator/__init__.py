"""NELM pathway simulator: a discrete-event model of neuroendocrine liver metastasis treatment."""

from importlib import metadata

try:
    __version__ = metadata.version("nelm-sim")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

from .api import ScenarioResult, run_file, run_scenario  # noqa: E402
from .config import Scenario, load_scenario  # noqa: E402

__all__ = ["Scenario", "ScenarioResult", "load_scenario", "run_file", "run_scenario", "__version__"]
