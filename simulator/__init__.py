"""NELM pathway simulator: a discrete-event model of neuroendocrine liver metastasis treatment."""

from importlib import metadata

try:
    __version__ = metadata.version("nelm-sim")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["Scenario", "ScenarioResult", "load_scenario", "run_file", "run_scenario", "__version__"]


def __getattr__(name: str):
    # The public names load the whole model (pandas, SciPy, matplotlib...) on first use only, so that
    # `nelm-sim --version`, which imports this package, stays quick.
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
