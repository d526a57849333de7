"""Bayesian calibration by Gaussian-process emulation: history matching, then incremental mixture
importance sampling (IMIS) of the posterior on the emulator.

Generic over the simulator: it sees a box of parameters (a uniform prior on it), a function that
runs a batch of parameter points and returns one row of outputs per point, the observed outputs
and their variances. The method (docs/calibration.md, "Bayesian calibration"):

- **Emulators.** One Gaussian process per output (scikit-learn, anisotropic RBF plus a nugget),
  fitted to the outputs at a Latin-hypercube design over the box.
- **Implausibility** (Andrianakis et al. 2015, PLoS Comput Biol 11(1):e1003968; Vernon et al. 2010,
  Bayesian Anal 5(4):619-70): ``|z - E[f(x)]| / sqrt(V_obs + V_mc + V_em(x))`` per output; a point
  whose largest implausibility exceeds the cut-off (3, Pukelsheim's three-sigma rule) is ruled out.
- **Waves.** Each later wave runs the simulator at new design points drawn from the current
  posterior's non-implausible region, and refits the emulators on every run so far, which sharpens
  them where the posterior lies.
- **Posterior** (Raftery & Bao 2010, Biometrics 66(4):1162-73): IMIS on the emulated likelihood,
  a product of normal densities with the same three variances, set to zero outside the
  non-implausible region. The emulator is cheap, so the importance sample is large; the posterior
  sample is the final resample of IMIS.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

from ..errors import UserInputError

IMPLAUSIBILITY_CUTOFF = 3.0  # Pukelsheim's three-sigma rule, as in Andrianakis et al. 2015
# IMIS (Raftery & Bao 2010): B points per added mixture component; they used B = N0 / 10.
IMIS_PRIOR_DRAWS_PER_COMPONENT = 10
IMIS_MAX_ITERATIONS = 400
# The emulated likelihood is cheap; predicting in chunks bounds the memory of the GP's cross-kernel.
PREDICT_CHUNK = 20_000


@dataclass(frozen=True)
class Settings:
    design_points: int  # simulator runs per wave
    waves: int
    samples: int  # posterior draws written (IMIS's final resample)
    prior_draws: int  # IMIS's initial draws from the prior
    seed: int
    target_ess: int  # IMIS stops once the importance sample's effective size reaches this

    def check(self) -> None:
        for name, value, low in (
            ("--design-points", self.design_points, 4),
            ("--waves", self.waves, 1),
            ("--posterior-samples", self.samples, 1),
            ("--prior-draws", self.prior_draws, 100),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise UserInputError(f"{name}: expected a whole number of at least {low}, got {value}")


@dataclass
class Result:
    samples: np.ndarray  # (samples, d) posterior draws, equally weighted (IMIS resample)
    points: np.ndarray  # the importance sample behind them
    weights: np.ndarray  # its normalised weights
    ess: float  # effective sample size of the importance sample, 1 / sum(w^2)
    design: np.ndarray  # every simulator run's parameters
    outputs: np.ndarray  # and outputs
    wave_of_run: np.ndarray
    non_implausible_share: list[float] = field(default_factory=list)  # of prior draws, per wave
    emulators: list[GaussianProcessRegressor] = field(default_factory=list)


def fit_emulators(x: np.ndarray, y: np.ndarray, seed: int) -> list[GaussianProcessRegressor]:
    """One GP per output column; outputs standardised (normalize_y) so one kernel prior fits all."""
    dimensions = x.shape[1]
    emulators = []
    for column in range(y.shape[1]):
        kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.ones(dimensions), (1e-2, 1e3)) + WhiteKernel(1e-3, (1e-8, 1.0))
        gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)
        # A hyperparameter at its bound is expected: an output that ignores a parameter (length scale at
        # its upper bound) or that the simulator computes without noise (nugget at its lower bound).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            emulators.append(gp.fit(x, y[:, column]))
    return emulators


def predict(emulators: list[GaussianProcessRegressor], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Emulator means and variances, (n, outputs) each. The nugget is left in the variance: it is the
    part of the simulator's output the smooth emulator cannot follow."""
    means = np.empty((len(x), len(emulators)))
    variances = np.empty_like(means)
    for start in range(0, len(x), PREDICT_CHUNK):
        chunk = x[start : start + PREDICT_CHUNK]
        for column, gp in enumerate(emulators):
            mean, sd = gp.predict(chunk, return_std=True)
            means[start : start + len(chunk), column] = mean
            variances[start : start + len(chunk), column] = sd**2
    return means, variances


def _log_likelihood_and_plausible(emulators, x, observed, fixed_variance) -> tuple[np.ndarray, np.ndarray]:
    mean, emulator_variance = predict(emulators, x)
    variance = fixed_variance[None, :] + emulator_variance
    residual = observed[None, :] - mean
    implausibility = np.abs(residual) / np.sqrt(variance)
    log_likelihood = -0.5 * (residual**2 / variance + np.log(2 * np.pi * variance)).sum(axis=1)
    return log_likelihood, implausibility.max(axis=1) <= IMPLAUSIBILITY_CUTOFF


def imis(
    log_likelihood: Callable[[np.ndarray], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    prior_draws: int,
    target_ess: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Incremental mixture importance sampling (Raftery & Bao 2010) under a uniform prior on the box.
    Returns the importance sample, its normalised weights and effective sample size."""
    dimensions = len(lower)
    per_component = max(prior_draws // IMIS_PRIOR_DRAWS_PER_COMPONENT, dimensions + 2)
    log_prior = -np.log(upper - lower).sum()
    points = rng.uniform(lower, upper, size=(prior_draws, dimensions))
    log_like = log_likelihood(points)
    prior_scale = np.diag(((upper - lower) ** 2) / 12.0)
    components: list[stats._multivariate.multivariate_normal_frozen] = []
    # Mixture density of each point under the Gaussian components added so far, summed (not averaged).
    component_density = np.zeros(len(points))
    weights, ess = np.zeros(len(points)), 0.0
    for _ in range(IMIS_MAX_ITERATIONS + 1):
        total = prior_draws + per_component * len(components)
        proposal = (prior_draws * np.exp(log_prior) + per_component * component_density) / total
        log_weight = log_like + log_prior - np.log(proposal)
        log_weight[~np.isfinite(log_like)] = -np.inf
        if not np.isfinite(log_weight).any():
            raise UserInputError("posterior: no prior draw is non-implausible; raise --prior-draws or --design-points")
        weights = np.exp(log_weight - log_weight.max())
        weights /= weights.sum()
        ess = float(1.0 / (weights**2).sum())
        if ess >= target_ess or len(components) == IMIS_MAX_ITERATIONS:
            break
        # A copy: a row of ``points`` is a view that would keep the whole array alive in the component
        # (scipy keeps its mean), one array per iteration; 400 iterations of a 20,000-draw run held 24 GB.
        centre = points[np.argmax(weights)].copy()
        # The component's covariance: of the per_component points nearest the heaviest one (Mahalanobis
        # distance under the prior's covariance), weighted half by importance and half uniformly.
        distance = (((points - centre) ** 2) / np.diag(prior_scale)).sum(axis=1)
        nearest = np.argsort(distance)[:per_component]
        local = (weights[nearest] + 1.0 / len(points)) / 2
        local /= local.sum()
        offset = points[nearest] - centre
        covariance = (offset * local[:, None]).T @ offset + 1e-12 * prior_scale
        component = stats.multivariate_normal(centre, covariance, allow_singular=True)
        new = component.rvs(size=per_component, random_state=rng).reshape(per_component, dimensions)
        inside = np.all((new >= lower) & (new <= upper), axis=1)
        new_like = np.full(per_component, -np.inf)
        if inside.any():
            new_like[inside] = log_likelihood(new[inside])
        components.append(component)
        component_density = component_density + component.pdf(points).reshape(len(points))
        new_density = sum(c.pdf(new).reshape(per_component) for c in components)
        points = np.vstack([points, new])
        log_like = np.concatenate([log_like, new_like])
        component_density = np.concatenate([component_density, new_density])
    return points, weights, ess


def latin_hypercube(lower: np.ndarray, upper: np.ndarray, n: int, seed: int) -> np.ndarray:
    sampler = stats.qmc.LatinHypercube(d=len(lower), seed=seed)
    return stats.qmc.scale(sampler.random(n), lower, upper)


def calibrate(
    simulate: Callable[[np.ndarray, int], np.ndarray],
    lower: np.ndarray,
    upper: np.ndarray,
    observed: np.ndarray,
    fixed_variance: np.ndarray,
    settings: Settings,
    progress: Callable[[str], None] = lambda text: None,
) -> Result:
    """History matching in ``settings.waves`` waves, then IMIS on the last wave's emulators.
    ``simulate(points, wave)`` returns the outputs (on the scale of ``observed``) at each point;
    ``fixed_variance`` is each output's observation plus Monte Carlo variance."""
    settings.check()
    rng = np.random.default_rng(settings.seed)
    design = latin_hypercube(lower, upper, settings.design_points, settings.seed)
    runs, outputs, wave_of_run, shares = [], [], [], []
    emulators: list[GaussianProcessRegressor] = []
    points, weights, ess = np.empty((0, len(lower))), np.empty(0), 0.0
    for wave in range(settings.waves):
        runs.append(design)
        outputs.append(np.asarray(simulate(design, wave), dtype=float))
        wave_of_run.append(np.full(len(design), wave))
        x, y = np.vstack(runs), np.vstack(outputs)
        emulators = fit_emulators(x, y, settings.seed)
        prior = rng.uniform(lower, upper, size=(settings.prior_draws, len(lower)))
        shares.append(float(_log_likelihood_and_plausible(emulators, prior, observed, fixed_variance)[1].mean()))

        def log_likelihood(candidates: np.ndarray) -> np.ndarray:
            value, plausible = _log_likelihood_and_plausible(emulators, candidates, observed, fixed_variance)
            return np.where(plausible, value, -np.inf)

        points, weights, ess = imis(log_likelihood, lower, upper, settings.prior_draws, settings.target_ess, rng)
        progress(f"wave {wave + 1}: {len(x)} runs, non-implausible share of the prior {shares[-1]:.3g}, IMIS ESS {ess:.0f}")
        if wave + 1 < settings.waves:
            # Refocus: the next wave's design points where the current posterior puts its mass.
            support = np.flatnonzero(weights > 0)
            take = min(settings.design_points, len(support))
            chosen = rng.choice(support, size=take, replace=False, p=weights[support] / weights[support].sum())
            design = points[chosen]
    resample = rng.choice(len(points), size=settings.samples, replace=True, p=weights)
    return Result(
        samples=points[resample],
        points=points,
        weights=weights,
        ess=ess,
        design=np.vstack(runs),
        outputs=np.vstack(outputs),
        wave_of_run=np.concatenate(wave_of_run),
        non_implausible_share=shares,
        emulators=emulators,
    )


def predictive_interval(
    emulators: list[GaussianProcessRegressor],
    samples: np.ndarray,
    fixed_variance: np.ndarray,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """The posterior-predictive interval of each output: emulator mean plus emulator, Monte Carlo and
    observation noise at each posterior draw, then the central ``level`` quantiles."""
    mean, variance = predict(emulators, samples)
    draws = mean + rng.standard_normal(mean.shape) * np.sqrt(variance + fixed_variance[None, :])
    tail = (1 - level) / 2
    return np.quantile(draws, tail, axis=0), np.quantile(draws, 1 - tail, axis=0)
