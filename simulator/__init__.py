"""NELM pathway simulator: a discrete-event model of neuroendocrine liver metastasis treatment."""

__all__ = ["Scenario", "ScenarioResult", "load_scenario", "run_file", "run_scenario", "__version__"]


def __getattr__(name: str):
    # Nothing is imported with the package itself: `python -m simulator` and the console script import it
    # before the program's first line installs its signal handlers (__main__.py), and a Ctrl-C in that window
    # printed a traceback (importlib.metadata alone took 20 ms; seen by tests/test_fuzz_commands.py).
    # The public names load the whole model (pandas, SciPy, matplotlib...) on first use only, so that
    # `nelm-sim --version` stays quick.
    if name == "__version__":
        from importlib import metadata

        try:
            version = metadata.version("nelm-sim")
        except metadata.PackageNotFoundError:  # running from a source tree that is not installed
            version = "0+unknown"
        globals()["__version__"] = version
        return version
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
