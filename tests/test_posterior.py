"""Bayesian calibration (`calibrate --posterior`): the method recovers a known posterior, each target's
standard error is derived from what the targets file states, options are refused in one line, and the
command writes its sample and diagnostics."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from simulator.cli import main
from simulator.errors import ScenarioError
from simulator.experiments import history_matching
from simulator.experiments.calibrate import Target, load_targets
from simulator.experiments.posterior import published_se, sampling_se

from .conftest import ROOT

SEED_DIR = ROOT / "scenarios" / "seed"
# A linear-Gaussian simulator, y = A theta, with a flat prior far wider than the posterior: the exact
# posterior is normal with precision A' V^-1 A. The observations are A theta0, so no output sits near
# the implausibility cut-off and the cut truncates nothing measurable.
A = np.array([[1.0, 0.5], [0.2, 1.0], [1.0, -1.0]])
THETA0 = np.array([0.5, 1.5])
SD = np.array([0.3, 0.2, 0.5])


def test_history_matching_and_imis_recover_the_exact_linear_gaussian_posterior():
    variance = SD**2
    observed = A @ THETA0
    settings = history_matching.Settings(design_points=20, waves=2, samples=1000, prior_draws=2000, seed=11, target_ess=1000)
    result = history_matching.calibrate(lambda x, wave: x @ A.T, np.full(2, -5.0), np.full(2, 5.0), observed, variance, settings)
    covariance = np.linalg.inv(A.T @ np.diag(1 / variance) @ A)
    exact_mean = covariance @ A.T @ (observed / variance)
    exact_sd = np.sqrt(np.diag(covariance))
    mean = result.weights @ result.points
    sd = np.sqrt(result.weights @ (result.points - mean) ** 2)
    assert result.ess >= 1000
    # Importance-sampling SE of a mean is about sd / sqrt(ESS), of an SD about sd / sqrt(2 ESS).
    assert np.all(np.abs(mean - exact_mean) < 4 * exact_sd / math.sqrt(result.ess))
    assert np.all(np.abs(sd / exact_sd - 1) < 4 / math.sqrt(2 * result.ess))
    assert result.samples.shape == (1000, 2)
    # The equally weighted resample has the same centre, within its own sampling error.
    assert np.all(np.abs(result.samples.mean(axis=0) - exact_mean) < 4 * exact_sd / math.sqrt(1000) + 4 * exact_sd / math.sqrt(result.ess))


def _target(**fields) -> Target:
    base = {"id": "t", "population": "p", "scenario": "s", "arm": "a", "source": "x"}
    return Target(**{**base, **fields})


def test_standard_errors_come_from_ci_range_or_sample_size():
    hazard = _target(metric="hazard_ratio", control="c", published=0.35, ci=(0.27, 0.45))
    assert published_se(hazard) == pytest.approx((math.log(0.45) - math.log(0.27)) / 3.919927969)
    rate = _target(metric="rate", rate="captem_response", published=0.175, range=(0.15, 0.20))
    assert published_se(rate) == pytest.approx(0.05 / 3.919927969)
    landmark = _target(metric="survival_at", months=60, published=0.74, n=339)
    assert published_se(landmark) == pytest.approx(math.sqrt(0.74 * 0.26 / 339))
    median = _target(metric="median", published=34.0, n=414)
    assert published_se(median) == pytest.approx(math.sqrt(2 / 414))
    assert published_se(_target(metric="median", published=34.0, se=0.1)) == 0.1
    assert sampling_se(hazard, 0.35, 1000) == pytest.approx(math.sqrt(4 / 1000))
    with pytest.raises(ScenarioError, match="a ci, range, n or se"):
        published_se(_target(metric="median", published=34.0))


def test_every_calibration_target_states_its_uncertainty():
    for target in load_targets().targets:
        assert published_se(target) > 0, target.id
        if target.n is not None:
            assert target.uncertainty_source, target.id


def test_posterior_options_without_posterior_are_one_line(tmp_path, capsys):
    assert main(["calibrate", "--check", "--design-points", "10", "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "--design-points: expected only with --posterior" in error and error.count("\n") == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--posterior-samples", "10"], "--posterior-samples: expected a whole number from 1000 to"),
        (["--design-points", "2"], "--design-points: expected a whole number from 4"),
        (["--prior-draws", "5"], "--prior-draws: expected a whole number from 100 to"),
        (["--check"], "--check: expected without --posterior"),
        (["--waves", "21"], "--waves: expected a whole number from 1 to 20"),
    ],
)
def test_bad_posterior_options_are_one_line(tmp_path, capsys, options, message):
    status = main(["calibrate", "--posterior", "--out", str(tmp_path / "out"), "--library-dir", str(tmp_path), *options])
    error = capsys.readouterr().err
    assert status == 2 and message in error and error.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "posterior.csv").exists()


@pytest.mark.slow
def test_calibrate_posterior_writes_sample_and_diagnostics(tmp_path, capsys, monkeypatch):
    # What is tested is what the command writes, not how far IMIS gets (the linear-Gaussian test above
    # checks that it recovers a posterior): 40 mixture components instead of 400 take a fifth of the time.
    monkeypatch.setattr(history_matching, "IMIS_MAX_ITERATIONS", 40)
    out = tmp_path / "out"
    options = ["--posterior-patients", "40", "--design-points", "6", "--waves", "1", "--prior-draws", "500"]
    status = main(
        ["calibrate", "--posterior", *options, "--out", str(out), "--library-dir", str(tmp_path), "--quiet", "--seed-dir", str(SEED_DIR)]
    )
    assert status == 0, capsys.readouterr().err
    diagnostics = json.loads((out / "posterior_diagnostics.json").read_text())
    predictive = pd.read_csv(out / "posterior_predictive.csv")
    assert len(predictive) == len(load_targets().for_every_fit())
    assert diagnostics["posterior_predictive_coverage"] == pytest.approx(predictive["inside"].mean(), abs=1e-4)
    assert diagnostics["effective_sample_size"] > 0 and diagnostics["simulator_runs"] == 6
    assert (out / "posterior_pairs.png").stat().st_size > 0
    sample = pd.read_csv(tmp_path / "posterior.csv")
    blocks = load_targets().blocks
    assert len(sample) == 1000 and len(sample.columns) == 1 + sum(len(b.parameters) for b in blocks)
    bounds = [p.bounds for b in blocks for p in b.parameters]
    for column, (low, high) in zip(sample.columns[1:], bounds):
        assert sample[column].between(low * (1 - 1e-5), high * (1 + 1e-5)).all(), column
    assert "effective_sample_size" in (tmp_path / "posterior.yaml").read_text()
    assert "effective sample size" in capsys.readouterr().out


def test_imis_components_do_not_keep_old_point_arrays_alive(monkeypatch):
    """Each mixture component is centred on a copy of its point: a view of a row kept the whole array of
    that iteration alive (scipy keeps the mean), and a default-size run grew to 24 GB and was killed."""
    centres = []
    real = history_matching.stats.multivariate_normal

    def recording(mean, *args, **kwargs):
        centres.append(mean)
        return real(mean, *args, **kwargs)

    monkeypatch.setattr(history_matching.stats, "multivariate_normal", recording)
    lower, upper = np.zeros(3), np.ones(3)
    narrow = lambda x: -0.5 * (((x - 0.5) / 0.02) ** 2).sum(axis=1)  # noqa: E731 - a posterior IMIS needs many components for
    history_matching.imis(narrow, lower, upper, prior_draws=500, target_ess=10_000, rng=np.random.default_rng(1))
    assert len(centres) > 5
    assert all(centre.base is None for centre in centres)  # each owns its three numbers, not a view of a points array
