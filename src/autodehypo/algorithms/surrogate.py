"""A Gaussian process of the evaluations so far, for pre-screening (``surrogate = "gp"``).

The model that :mod:`prescreen` uses to choose which of DE's offspring to
evaluate. Pure numpy and scipy, in the unit cube:

- Inputs: the point that stands for a candidate's configuration when the
  driver gives one (integers rounded, a choice at its own place: see
  ``Search.set_key``), so that the plateaus that integers and choices make in
  the cube are one point each, not a cloud.
- Values: failures (``inf``) rank after every finite value; the values are
  replaced by normal scores of their ranks (a copula transform), so that the
  scale of the metric, its outliers and the worst value told for failures do
  not bend the model, and a unit-variance prior fits every task alike.
- Kernel: Matern 5/2 with one length scale per coordinate (ARD), a signal
  variance and a noise variance, chosen by maximizing the marginal
  likelihood plus a weak log-normal prior on the length scales (L-BFGS-B from
  the previous fit: the model follows the data in small steps).
- Size: at most :data:`MAX_POINTS` evaluated points are fitted (the best
  quarter and the most recent rest): the cost per fit is bounded, whatever
  the length of the study.
- Pending points: a point asked and not yet told is added with its predicted
  mean as its value (the "kriging believer"): the mean does not move, the
  uncertainty around it shrinks, so parallel asks spread out instead of
  piling on one spot.

The score of a candidate is the predicted quantile of its value, one standard
deviation optimistic (:class:`OptimisticQuantile`). Expected improvement was
measured too and was worse on the recorded tables (see the README).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.linalg import cho_solve, solve_triangular
from scipy.optimize import minimize
from scipy.special import log_ndtr, ndtri

MAX_POINTS = 256           # evaluated points fitted at most
KAPPA = 1.0                # standard deviations of optimism in the score
MAX_ITERATIONS = 30        # L-BFGS-B iterations per fit
REFIT_EVERY = 16           # new points between two fits of the hyperparameters
LENGTH_PRIOR = (0.0, 1.5)  # mean and sd of log length scale (the cube's side is 1)
BOUNDS = {"length": (1e-2, 1e2), "signal": (5e-2, 2e1), "noise": (1e-6, 1.0)}
SQRT5 = math.sqrt(5.0)


@lru_cache(maxsize=None)
def _blas():
    """The BLAS libraries loaded with scipy, found once: looking them up costs 1-2 ms, at every ask."""
    from threadpoolctl import ThreadpoolController
    return ThreadpoolController().select(user_api="blas")


def one_blas_thread():
    """A context in which BLAS runs on one thread. The GP's matrices are small: threads only
    contend, most of all with trials training on the same cores (a 256 x 256 Cholesky: 1.8 ms on
    one thread of a busy 2-core machine, 130 ms on two)."""
    return _blas().limit(limits=1)


def rank_quantiles(values: np.ndarray) -> np.ndarray:
    """(rank + 1/2) / n of each value: ties share their mean rank; inf ranks last."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    worst = values[finite].max() + 1.0 if finite.any() else 0.0
    values = np.where(finite, values, worst)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    rank = (np.cumsum(counts) - counts + (counts - 1) / 2.0)[inverse]
    return (rank + 0.5) / len(values)


def normal_scores(values: np.ndarray) -> np.ndarray:
    """Normal quantiles of the values' ranks (ties share their mean rank; inf ranks last)."""
    return ndtri(rank_quantiles(values))


def _scaled_distances(a: np.ndarray, b: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    a, b = a / lengths, b / lengths
    d2 = np.sum(a ** 2, axis=1)[:, None] + np.sum(b ** 2, axis=1)[None, :] - 2.0 * a @ b.T
    return np.sqrt(np.maximum(d2, 0.0))


def matern52(a: np.ndarray, b: np.ndarray, lengths: np.ndarray, signal: float) -> np.ndarray:
    r = SQRT5 * _scaled_distances(a, b, lengths)
    return signal * (1.0 + r + r * r / 3.0) * np.exp(-r)


class GaussianProcess:
    """The posterior of a zero-mean GP on ``points`` (n x d in the unit cube) with ``targets``
    (normal scores), its hyperparameters fitted by :meth:`fit`; :meth:`condition` adds points
    with their predicted mean as value."""

    def __init__(self, points: np.ndarray, targets: np.ndarray):
        self.x = np.asarray(points, dtype=float)
        self.y = np.asarray(targets, dtype=float)
        d = self.x.shape[1]
        self.lengths, self.signal, self.noise = np.full(d, 0.5), 1.0, 1e-2

    # -- hyperparameters ------------------------------------------------------
    def _unpack(self, theta: np.ndarray) -> tuple[np.ndarray, float, float]:
        return np.exp(theta[:-2]), float(np.exp(theta[-2])), float(np.exp(theta[-1]))

    def _objective(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Negative log marginal likelihood plus the length-scale prior, and its gradient."""
        lengths, signal, noise = self._unpack(theta)
        n, d = self.x.shape
        diff2 = (self.x[:, None, :] - self.x[None, :, :]) ** 2 / lengths ** 2   # n x n x d
        r = SQRT5 * np.sqrt(np.sum(diff2, axis=2))
        e = np.exp(-r)
        k = signal * (1.0 + r + r * r / 3.0) * e
        kn = k + (noise + 1e-8) * np.eye(n)
        try:
            chol = np.linalg.cholesky(kn)
        except np.linalg.LinAlgError:
            return 1e10, np.zeros_like(theta)
        alpha = cho_solve((chol, True), self.y)
        nll = 0.5 * self.y @ alpha + np.sum(np.log(np.diag(chol))) + 0.5 * n * math.log(2 * math.pi)
        inner = np.outer(alpha, alpha) - cho_solve((chol, True), np.eye(n))  # dNLL/dK = -inner / 2
        # dk/dlog(l_i) = signal * 5/3 * (1 + r) * exp(-r) * diff_i^2 / l_i^2
        common = signal * (5.0 / 3.0) * (1.0 + r) * e
        grad = np.empty_like(theta)
        grad[:d] = -0.5 * np.einsum("ij,ij,ijk->k", inner, common, diff2)
        grad[-2] = -0.5 * np.sum(inner * k)
        grad[-1] = -0.5 * np.trace(inner) * noise
        mu, sd = LENGTH_PRIOR
        z = (theta[:d] - mu) / sd
        nll += 0.5 * np.sum(z * z)
        grad[:d] += z / sd
        return float(nll), grad

    @property
    def theta(self) -> np.ndarray:
        """The hyperparameters, as :meth:`fit` takes them back."""
        return np.log(np.concatenate([self.lengths, [self.signal, self.noise]]))

    def fit(self, theta: np.ndarray | None = None, start: np.ndarray | None = None) -> "GaussianProcess":
        """Hyperparameters by marginal likelihood from ``start`` (an earlier fit's, so that a
        model refitted as points come in moves a little instead of searching again), or
        ``theta`` as given (the posterior updated with new points, the hyperparameters kept)."""
        if theta is not None:
            self.lengths, self.signal, self.noise = self._unpack(np.asarray(theta, dtype=float))
            self._factor()
            return self
        d = self.x.shape[1]
        if start is None or len(start) != d + 2:
            start = np.concatenate([np.full(d, math.log(0.5)), [0.0, math.log(1e-2)]])
        bounds = [tuple(np.log(BOUNDS["length"]))] * d + [tuple(np.log(BOUNDS["signal"])),
                                                          tuple(np.log(BOUNDS["noise"]))]
        if len(self.y) >= 3:
            with np.errstate(all="ignore"):
                result = minimize(self._objective, start, jac=True, method="L-BFGS-B", bounds=bounds,
                                  options={"maxiter": MAX_ITERATIONS})
            theta = result.x if np.all(np.isfinite(result.x)) else start
        else:
            theta = start
        self.lengths, self.signal, self.noise = self._unpack(theta)
        self._factor()
        return self

    # -- the posterior ----------------------------------------------------------
    def _factor(self) -> None:
        kn = matern52(self.x, self.x, self.lengths, self.signal) + (self.noise + 1e-8) * np.eye(len(self.x))
        self.chol = np.linalg.cholesky(kn)
        self.alpha = cho_solve((self.chol, True), self.y)

    def predict(self, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Posterior mean and standard deviation of the latent function at ``candidates``."""
        ks = matern52(candidates, self.x, self.lengths, self.signal)
        mean = ks @ self.alpha
        v = solve_triangular(self.chol, ks.T, lower=True)
        var = np.maximum(self.signal - np.sum(v * v, axis=0), 1e-12)
        return mean, np.sqrt(var)

    def condition(self, points: np.ndarray) -> None:
        """Add ``points`` with their predicted mean as value (the Cholesky factor grown, not redone)."""
        points = np.atleast_2d(points)
        if not len(points):
            return
        mean, _ = self.predict(points)
        k12 = matern52(self.x, points, self.lengths, self.signal)
        k22 = matern52(points, points, self.lengths, self.signal) + (self.noise + 1e-8) * np.eye(len(points))
        l21 = solve_triangular(self.chol, k12, lower=True).T
        l22 = np.linalg.cholesky(k22 - l21 @ l21.T + 1e-10 * np.eye(len(points)))
        n, m = len(self.x), len(points)
        chol = np.zeros((n + m, n + m))
        chol[:n, :n], chol[n:, :n], chol[n:, n:] = self.chol, l21, l22
        self.chol = chol
        self.x = np.vstack([self.x, points])
        self.y = np.concatenate([self.y, mean])
        self.alpha = cho_solve((self.chol, True), self.y)


def fitted_points(values: np.ndarray, limit: int = MAX_POINTS) -> np.ndarray:
    """Indices of the evaluated points the model is fitted to: all of them up to ``limit``, else
    the best quarter of the limit and the most recent others."""
    n = len(values)
    if n <= limit:
        return np.arange(n)
    best = np.argsort(np.where(np.isfinite(values), values, np.inf), kind="stable")[:limit // 4]
    rest = np.ones(n, dtype=bool)
    rest[best] = False
    recent = np.flatnonzero(rest)[-(limit - len(best)):]
    return np.sort(np.concatenate([best, recent]))


def fitted_quantiles(values: np.ndarray) -> np.ndarray:
    """Each value's quantile on the scale of a process fitted to ``values``: its mid-rank among
    the points :func:`fitted_points` keeps, so that an evaluated value and a predicted quantile
    compare. Equal to :func:`rank_quantiles` while every point is fitted; beyond the limit the
    fitted points are the better ones, and a quantile among all the values would make every
    prediction look worse than the values the process was fitted to."""
    values = np.asarray(values, dtype=float)
    keep = fitted_points(values)
    if len(keep) == len(values):
        return rank_quantiles(values)
    finite = np.isfinite(values)
    values = np.where(finite, values, values[finite].max() + 1.0 if finite.any() else 0.0)
    fitted = np.sort(values[keep])
    return (np.searchsorted(fitted, values, "left") + np.searchsorted(fitted, values, "right")) / (2.0 * len(fitted))


class OptimisticQuantile:
    """Score candidates by the predicted quantile of their value among the evaluated ones, taken
    ``kappa`` standard deviations optimistic: Phi(mean - kappa sd) on the normal-score scale. In
    [0, 1] like a rank, 0 the best, so that a predicted cost rank adds to it as it does to the
    nearest-neighbour model's rank; for one objective alone, a monotone map of the GP's lower
    confidence bound. ``theta``: the hyperparameters of an earlier fit, kept (no new fit)."""

    def __init__(self, points: np.ndarray, values: np.ndarray, pending: np.ndarray | None = None,
                 theta: np.ndarray | None = None, start: np.ndarray | None = None, kappa: float = KAPPA):
        keep = fitted_points(values)
        self.gp = GaussianProcess(points[keep], normal_scores(values[keep])).fit(theta, start)
        self.theta = self.gp.theta
        self.kappa = kappa
        if pending is not None and len(pending):
            self.gp.condition(pending)

    def __call__(self, candidates: np.ndarray) -> np.ndarray:
        mean, sd = self.gp.predict(candidates)
        return np.exp(log_ndtr(mean - self.kappa * sd))

    def chosen(self, point: np.ndarray) -> None:
        self.gp.condition(point)
