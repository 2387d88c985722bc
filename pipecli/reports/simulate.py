"""The seeded, vectorised Monte Carlo of open deals' wins and their timing (new deals: `arrivals.simulate`).

Each open deal has a row of probabilities: won in coming period i (the rest: later, or lost). Up to
`forecast.EXACT_LIMIT` deals every run draws every deal's outcome (one uniform number against the row's
cumulative probabilities, so a deal is won in at most one period). Beyond that, per period, the revenue of
groups of alike deals is drawn from the normal law of their sum (mean Σ n·p·v̄, variance
Σ n·(p(1−p)·v̄² + p·var v)), clipped at zero: the central limit holds at that size.
"""

from __future__ import annotations

import numpy as np


def every_deal(matrix: np.ndarray, values: np.ndarray, runs: int, rng: np.random.Generator) -> np.ndarray:
    """Return (runs × periods) revenue drawing every deal (row of `matrix`, value in `values`) in every run."""
    deals, horizon = matrix.shape if matrix.ndim == 2 else (0, 0)
    out = np.zeros((runs, horizon))
    if not deals or not horizon:
        return out
    cum = np.cumsum(matrix, axis=1)
    chunk = max(1, 4_000_000 // (deals * horizon))
    for lo in range(0, runs, chunk):
        hi = min(runs, lo + chunk)
        u = rng.random((hi - lo, deals))
        idx = (u[:, :, None] >= cum[None, :, :]).sum(axis=2)  # the period each deal is won in; horizon: not
        for i in range(horizon):
            out[lo:hi, i] = (idx == i) @ values
    return out


def normal_sum(
    matrix: np.ndarray,
    sums: np.ndarray,
    squares: np.ndarray,
    counts: np.ndarray,
    runs: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Return (runs × periods) revenue of groups (rows: per-deal probabilities, count, value sum and sum of
    squares) from the normal law of each period's sum."""
    horizon = matrix.shape[1]
    n = np.maximum(counts, 1)
    mean = sums / n
    var = np.maximum(squares / n - mean * mean, 0)
    out = np.zeros((runs, horizon))
    for i in range(horizon):
        p = matrix[:, i]
        mu = float((counts * p * mean).sum())
        sigma = float(np.sqrt((counts * (p * (1 - p) * mean * mean + p * var)).sum()))
        out[:, i] = np.clip(mu + sigma * rng.standard_normal(runs), 0, None)
    return out
