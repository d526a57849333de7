"""Partial expected value of perfect information (EVPPI) by regression on the PSA draws (Strong M,
Oakley JE, Brennan A. Estimating multiparameter partial expected value of perfect information from a
probabilistic sensitivity analysis sample: a nonparametric regression approach. Med Decis Making
2014;34(3):311-26).

For a parameter (or group) phi, EVPPI = E_phi[max_d E(NB_d | phi)] - max_d E(NB_d). The inner
conditional expectation is estimated by regressing each strategy's incremental net benefit (against
the first strategy) on phi over the PSA draws; the fitted values g[draw, d] replace it. Net benefit is
linear in the willingness to pay, and so is a conditional expectation: the incremental costs and
QALYs are regressed once and combined at every willingness to pay.

- One parameter: a cubic regression spline (B-splines with knots at quantiles of the draws), its
  number of knots chosen by generalised cross-validation: a GAM with one smooth term, as Strong et
  al. use for one or a few parameters.
- A group: a linear mean plus a Gaussian process with one length scale per parameter and a noise
  term (scikit-learn), the method Strong et al. propose for many parameters; one set of
  hyperparameters for all outputs, estimated on ``GP_HYPERPARAMETER_DRAWS`` draws; each draw's
  fitted value leaves that draw out (at most ``GP_MAX_DRAWS`` draws; beyond them, predicted).

Standard error: for one parameter, the bootstrap of the whole estimate (draws resampled, spline
refitted); for a group, the bootstrap of the fitted values only (refitting a GP 200 times is too
slow), which leaves out the regression's own error. Both understate the estimate's spread (on the
linear-normal test case the refitted bootstrap gives about 0.7 of it): read them as lower bounds.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.interpolate import BSpline

from .cea import evpi

# Interior knots tried for a one-parameter spline; GCV picks among them (0 = a cubic polynomial).
SPLINE_KNOTS = (0, 2, 4, 8)
SPLINE_DEGREE = 3
# A GP's hyperparameters (length scales, signal and noise variance) are estimated on a random subset of
# the draws, then the GP is conditioned on every draw with them held fixed: the estimation is the costly
# part (about 100 likelihood evaluations, each the cube of the draws), conditioning is one factorisation.
GP_HYPERPARAMETER_DRAWS = 150  # assumption: enough for the length scales of 10-30 parameters, 0.3 s per output
# Length scales in SDs of each parameter's draws. Shorter ones let the squared-exponential kernel act as
# white noise at the draws, which lie far apart in many dimensions: the GP then interpolates the draws'
# first-order noise and the EVPPI of every group equals the EVPI (seen on the baseline at 200 patients
# per draw, R^2 of 1.0). Starting long, the fit shortens only the scales of parameters that matter.
GP_LENGTH_SCALE_MIN = 1.0  # assumption: no effect varies faster than across one SD of its parameter's draws
GP_LENGTH_SCALE_START = 10.0  # assumption: start from a nearly linear fit (the linear mean takes the rest)
GP_MAX_DRAWS = 2000  # conditioning on more would need a 2000 x 2000 matrix per output (32 MB): a subset beyond
GP_SEED = 20140301  # which draws the subsets hold
BOOTSTRAP_REPLICATES = 100  # enough for an SE good to about 7% (1 / sqrt(2 x 100))
BOOTSTRAP_SEED = 20140302
MIN_DRAWS = 30  # fewer draws cannot support a regression with several degrees of freedom per strategy
# A group's regression has a coefficient per parameter; with fewer than this many draws per parameter it
# fits the draws' noise and its EVPPI tends to the EVPI (Harrell FE, Regression Modeling Strategies,
# 2nd ed. 2015, section 4.4: 10-20 observations per parameter estimated). Such a group is reported
# without an estimate.
DRAWS_PER_GROUP_PARAMETER = 10

# Parameter groups an analyst buys evidence for (issue 17): by the parameter's name prefix, or unit.
GROUP_PREFIXES: dict[str, tuple[str, ...]] = {
    "drug effects": (
        "octreotide_lar.",
        "lanreotide.",
        "ssa.",
        "everolimus.",
        "sunitinib.",
        "prrt.",
        "captem.",
        "temozolomide.",
        "telotristat.",
        "trial.",
    ),
    "natural history": ("disease.", "natural_history.", "tumour.", "symptoms."),
    "surgery and local therapy": ("hepatectomy.", "ablation.", "iat.", "tae.", "tace.", "y90.", "transplant.", "procedures."),
    "population": ("cohort.", "arrivals."),
    "costs": ("cost.",),
    "utilities": ("utility.",),
}
OTHER_GROUP = "other"
GROUPS = (*GROUP_PREFIXES, OTHER_GROUP)


def parameter_group(column: str) -> str:
    for group, prefixes in GROUP_PREFIXES.items():
        if column.startswith(prefixes):
            return group
    return OTHER_GROUP


@dataclass(frozen=True)
class Increments:
    """Incremental costs and QALYs of each strategy against the first, per draw (draws x strategies - 1)."""

    costs: np.ndarray
    qalys: np.ndarray

    @classmethod
    def of(cls, costs: np.ndarray, qalys: np.ndarray) -> Increments:
        return cls(costs[:, 1:] - costs[:, :1], qalys[:, 1:] - qalys[:, :1])

    def stacked(self) -> np.ndarray:
        return np.hstack([self.costs, self.qalys])


def _spline_basis(x: np.ndarray, knots: int) -> np.ndarray:
    low, high = float(x.min()), float(x.max())
    interior = np.quantile(x, np.linspace(0, 1, knots + 2)[1:-1]) if knots else np.array([])
    vector = np.concatenate([[low] * (SPLINE_DEGREE + 1), interior, [high] * (SPLINE_DEGREE + 1)])
    return BSpline.design_matrix(np.clip(x, low, high), vector, SPLINE_DEGREE).toarray()


def _basis(x: np.ndarray, knots: int | None) -> np.ndarray:
    """The regression's design: a cubic B-spline basis, or (None) a straight line."""
    return np.column_stack([np.ones(len(x)), x]) if knots is None else _spline_basis(x, knots)


def _least_squares(basis: np.ndarray, y: np.ndarray) -> np.ndarray:
    coefficients, *_ = np.linalg.lstsq(basis, y, rcond=None)
    return basis @ coefficients


def choose_knots(x: np.ndarray, y: np.ndarray) -> int | None:
    """The number of interior knots with the smallest generalised cross-validation score summed over
    the columns of ``y`` (each scaled by its variance); None (a straight line) when ``x`` has too few
    distinct values for any spline."""
    n = len(x)
    best, best_score = None, np.inf
    for knots in SPLINE_KNOTS:
        basis = _spline_basis(x, knots)
        if len(np.unique(x)) <= basis.shape[1] or n <= basis.shape[1] + 1:
            continue
        rss = ((y - _least_squares(basis, y)) ** 2).sum(axis=0)
        score = float((n * rss / (n - basis.shape[1]) ** 2 / np.maximum(y.var(axis=0), 1e-300)).sum())
        if score < best_score:
            best, best_score = knots, score
    return best


def fit_one(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fitted values of every column of ``y`` on one parameter ``x``: a cubic regression spline, its
    knots chosen by generalised cross-validation."""
    return _least_squares(_basis(x, choose_knots(x, y)), y)


def refit_se(x: np.ndarray, y: np.ndarray, wtp: Sequence[float], half: int, rng: np.random.Generator) -> list[float]:
    """SE of a one-parameter EVPPI by the bootstrap of the whole estimate: draws resampled, the spline
    refitted (knots as chosen on all draws), the EVPPI recomputed. Unlike resampling fitted values, it
    includes the regression's own error, which is most of it when the parameter explains little."""
    knots = choose_knots(x, y)
    n = len(x)
    estimates = np.empty((BOOTSTRAP_REPLICATES, len(wtp)))
    for replicate in range(BOOTSTRAP_REPLICATES):
        rows = rng.integers(0, n, n)
        fitted = _least_squares(_basis(x[rows], knots), y[rows])
        estimates[replicate] = [evppi_of(_value(fitted[:, :half], fitted[:, half:], value)) for value in wtp]
    return [float(v) for v in estimates.std(axis=0, ddof=1)]


def fit_group(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Fitted values of every column of ``y`` on several parameters ``x`` (draws x parameters): a linear
    mean plus a Gaussian process, inputs standardised, one length scale per parameter plus noise."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    scaled = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    rng = np.random.default_rng(GP_SEED)
    rows = np.sort(rng.choice(len(x), GP_MAX_DRAWS, replace=False)) if len(x) > GP_MAX_DRAWS else np.arange(len(x))
    subset = np.sort(rng.choice(rows, GP_HYPERPARAMETER_DRAWS, replace=False)) if len(rows) > GP_HYPERPARAMETER_DRAWS else rows
    # A linear mean function fitted on every draw, as Strong et al. give their GP: without it a GP fitted
    # on a subset reverts to the mean in the tails of the draws, which is where the EVPPI is decided.
    design = np.column_stack([np.ones(len(x)), scaled])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    linear = design @ coefficients
    residual = y - linear
    centre, spread = residual.mean(axis=0), residual.std(axis=0)
    varying = spread > 0
    fitted = linear + centre
    if not varying.any():
        return fitted
    # One set of hyperparameters for every column (the outputs' likelihoods summed): the same smoother
    # then acts on every strategy's costs and QALYs, so that their differences are smoothed alike.
    # Fitted column by column, each kept a different share of the comparator's noise, which every
    # increment carries, and the fitted strategies differed more than the draws did (EVPPI above EVPI).
    standardised = (residual[:, varying] - centre[varying]) / spread[varying]
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(np.full(x.shape[1], GP_LENGTH_SCALE_START), (GP_LENGTH_SCALE_MIN, 1e3)) + WhiteKernel(
        0.5, (1e-6, 1e1)
    )
    model = GaussianProcessRegressor(kernel, normalize_y=False, random_state=0)
    with warnings.catch_warnings():  # a length scale at its bound means "no effect", which is an answer
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(scaled[subset], standardised[subset])
    # Each draw's fitted value leaves that draw out (the closed form for a GP: y - [K^-1 y] / diag K^-1).
    # In many dimensions a squared-exponential kernel can act as white noise at the draws, which lie far
    # apart, and an in-sample fit then reproduces every draw's first-order noise (EVPPI = EVPI); left
    # out, noise predicts nothing and only an effect shared by neighbouring draws is kept.
    covariance = model.kernel_(scaled[rows])
    inverse = np.linalg.inv(covariance)
    predicted = np.empty((len(x), standardised.shape[1]))
    predicted[rows] = standardised[rows] - (inverse @ standardised[rows]) / np.diag(inverse)[:, None]
    others = np.setdiff1d(np.arange(len(x)), rows)
    if len(others):
        conditioned = GaussianProcessRegressor(model.kernel_, optimizer=None, normalize_y=False).fit(scaled[rows], standardised[rows])
        predicted[others] = conditioned.predict(scaled[others]).reshape(len(others), -1)
    fitted[:, varying] += spread[varying] * predicted
    return fitted


def _value(costs: np.ndarray, qalys: np.ndarray, wtp: float) -> np.ndarray:
    """Fitted incremental net benefit, with the reference strategy's 0 as the first column."""
    incremental = wtp * qalys - costs
    return np.hstack([np.zeros((len(incremental), 1)), incremental])


def evppi_of(fitted: np.ndarray) -> float:
    """Mean of the maxima minus the maximum of the means: never negative (Jensen), so a negative result
    is rounding and is returned as 0."""
    return max(0.0, float(fitted.max(axis=1).mean() - fitted.mean(axis=0).max()))


def bootstrap_se(fitted: np.ndarray, rng: np.random.Generator) -> float:
    n = len(fitted)
    estimates = [evppi_of(fitted[rng.integers(0, n, n)]) for _ in range(BOOTSTRAP_REPLICATES)]
    return float(np.std(estimates, ddof=1))


def evppi_table(
    costs: np.ndarray,
    qalys: np.ndarray,
    parameters: pd.DataFrame,
    wtp: Sequence[float],
    population: float,
    progress: Callable[[str], None] = lambda text: None,
) -> pd.DataFrame:
    """One row per (willingness to pay, parameter or group): its EVPPI per patient with its bootstrap SE,
    for the population, and the EVPI beside it. ``parameters`` holds the drawn values (draws x columns);
    columns that do not vary are left out (their EVPPI is 0)."""
    columns = [c for c in parameters.columns if parameters[c].nunique() > 1]
    if len(costs) < MIN_DRAWS or costs.shape[1] < 2 or not columns:
        return pd.DataFrame(
            columns=["wtp", "kind", "name", "group", "parameters", "evppi_per_patient", "evppi_se", "evppi_population", "evpi_per_patient"]
        )
    increments = Increments.of(costs, qalys)
    outputs = increments.stacked()
    half = increments.costs.shape[1]
    too_few: list[tuple[str, int]] = []  # groups with too few draws per parameter for a regression
    # (kind, name, group, parameters in it, fitted values, the one parameter's draws or None for a GP)
    fits: list[tuple[str, str, str, int, np.ndarray, np.ndarray | None]] = []
    for column in columns:
        x = parameters[column].to_numpy(float)
        fits.append(("parameter", column, parameter_group(column), 1, fit_one(x, outputs), x))
    for group in GROUPS:
        members = [c for c in columns if parameter_group(c) == group]
        if len(members) == 1:
            single = next(f for f in fits if f[1] == members[0])
            fits.append(("group", group, group, 1, single[4], single[5]))
        elif members and len(costs) >= DRAWS_PER_GROUP_PARAMETER * (len(members) + 1):
            progress(f"EVPPI: Gaussian process for {group} ({len(members)} parameters)")
            fits.append(("group", group, group, len(members), fit_group(parameters[members].to_numpy(float), outputs), None))
        elif members:
            too_few.append((group, len(members)))
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    refitted = {index: refit_se(fit[5], outputs, wtp, half, rng) for index, fit in enumerate(fits) if fit[5] is not None}
    rows = []
    evpis = evpi(costs, qalys, list(wtp))  # as evpi.csv has them (never negative by rounding)
    for w, value in enumerate(wtp):
        for index, (kind, name, group, count, fitted, _) in enumerate(fits):
            values = _value(fitted[:, :half], fitted[:, half:], value)
            estimate = evppi_of(values)
            se = refitted[index][w] if index in refitted else bootstrap_se(values, rng)
            rows.append(
                {
                    "wtp": value,
                    "kind": kind,
                    "name": name,
                    "group": group,
                    "parameters": count,
                    "evppi_per_patient": estimate,
                    "evppi_se": se,
                    "evppi_population": estimate * population,
                    "evpi_per_patient": float(evpis[w]),
                    "note": "",
                }
            )
        for group, count in too_few:
            rows.append(
                {
                    "wtp": value,
                    "kind": "group",
                    "name": group,
                    "group": group,
                    "parameters": count,
                    "evppi_per_patient": float("nan"),
                    "evppi_se": float("nan"),
                    "evppi_population": float("nan"),
                    "evpi_per_patient": float(evpis[w]),
                    "note": f"not estimated: {len(costs)} draws for {count} parameters (at least"
                    f" {DRAWS_PER_GROUP_PARAMETER * (count + 1)} needed)",
                }
            )
    table = pd.DataFrame(rows)
    order = table.sort_values(["wtp", "kind", "evppi_per_patient"], ascending=[True, True, False], kind="stable")
    return order.reset_index(drop=True)
