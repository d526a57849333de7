"""The quick commands load only what they need (issue 20 item 4): `nelm-sim --version`, `validate` and
`params` start without pandas, Matplotlib, lifelines, SimPy or Streamlit, which took seconds to import
before every command. Timings are measured by benchmarks/startup.py, never asserted here."""

from __future__ import annotations

import subprocess
import sys

import pytest

from .conftest import ROOT, tiny_scenario

HEAVY = ("pandas", "matplotlib", "lifelines", "simpy", "streamlit", "dask")
PROBE = """
import runpy, sys
sys.argv = ["nelm-sim", *sys.argv[1:]]
try:
    runpy.run_module("simulator", run_name="__main__")
except SystemExit as stop:
    assert not stop.code, stop.code
print(" ".join(sorted(m for m in sys.modules if not m.startswith("_"))), file=sys.stderr)
"""


def loaded(*arguments: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(done.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize(
    "arguments, also_absent",
    [
        (["--version"], ("numpy", "scipy", "pydantic", "simulator.experiments.prepare")),
        (["params"], ("scipy.stats", "scipy.integrate", "scipy.optimize")),
        (["params", "scenarios/baseline.yaml"], ("scipy.stats", "scipy.integrate", "scipy.optimize")),
        # validate draws the first PSA draw (beta and gamma quantiles from scipy.special), but runs nothing.
        (["validate", "scenarios/baseline.yaml"], ("scipy.stats", "simulator.engine.model", "simulator.outcomes.metrics")),
        (["schema"], ("numpy", "scipy")),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else "",
)
def test_quick_commands_load_no_heavy_library(arguments, also_absent):
    modules = loaded(*arguments)
    found = sorted(name for name in (*HEAVY, *also_absent) if name in modules)
    assert not found, f"nelm-sim {' '.join(arguments)} loads {found}"


def test_the_probe_sees_what_a_command_loads(write_scenario, tmp_path):
    """A command that simulates and draws does load them: the probe would catch a quick command that did."""
    path = write_scenario(tiny_scenario(cohort={"size": 10}))
    modules = loaded("run", str(path), "--out", str(tmp_path / "run"), "--workers", "1", "--quiet")
    assert {"simulator.cli", "pandas", "matplotlib", "lifelines", "simpy"} <= modules


def test_psa_quantiles_without_scipy_stats_are_scipy_stats_own():
    """economics/sampling.py draws beta and gamma values with scipy.special (so that `validate` need not
    import scipy.stats): the values are those of scipy.stats' ppf, bit for bit."""
    import numpy as np
    from scipy import special, stats

    rng = np.random.default_rng(20)
    u = rng.random(5000)
    a, b = rng.uniform(0.2, 800.0, 5000), rng.uniform(0.2, 800.0, 5000)
    scale = rng.uniform(1e-4, 1e5, 5000)
    assert np.array_equal(special.betaincinv(a, b, u), stats.beta.ppf(u, a, b))
    assert np.array_equal(special.gammaincinv(a, u) * scale, stats.gamma.ppf(u, a, scale=scale))
