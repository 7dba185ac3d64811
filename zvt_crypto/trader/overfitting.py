"""Overfitting statistics for parameter sweeps: deflated Sharpe ratio and probability of backtest overfitting.

Units: every Sharpe ratio here is **per period** (mean / std of the per-bar returns, not annualised): a daily
annualised 2.5 is 2.5 / sqrt(250) ≈ 0.158 per day. Kurtosis is the **non-excess** (Pearson) kurtosis, 3 for a
normal distribution, as in the papers; skewness and kurtosis are the population (biased) moment estimates.

- Probabilistic Sharpe ratio (Bailey & López de Prado, 2012):
  PSR(SR*) = Φ( (SR − SR*) · sqrt(n − 1) / sqrt(1 − γ3·SR + (γ4 − 1)/4 · SR²) ).
- Deflated Sharpe ratio (Bailey & López de Prado, 2014): DSR = PSR(SR0) with the expected maximum Sharpe ratio of
  N unskilled trials SR0 = sqrt(V[SR_n]) · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))), γ = Euler–Mascheroni,
  V[SR_n] = the variance (ddof=1) of the trials' Sharpe ratios.
- Probability of backtest overfitting (Bailey, Borwein, López de Prado & Zhu, 2015), combinatorially symmetric
  cross-validation (CSCV): the T × N returns matrix is cut into S equal row blocks; for each of the C(S, S/2)
  choices of S/2 blocks as in-sample (the rest out-of-sample) the configuration with the best in-sample Sharpe is
  taken, ω = its out-of-sample rank / (N + 1) (rank 1 = worst, ties averaged), λ = ln(ω / (1 − ω)), and
  PBO = share of combinations with λ ≤ 0 (the in-sample winner does no better than the out-of-sample median).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from zvt_crypto.contract.errors import InvalidInputError

__all__ = [
    "EULER_GAMMA",
    "OverfittingReport",
    "PBOResult",
    "deflated_sharpe_ratio",
    "expected_max_sharpe",
    "overfitting_report",
    "probabilistic_sharpe_ratio",
    "probability_of_backtest_overfitting",
    "sharpe_ratio",
]

EULER_GAMMA = 0.5772156649015329
_ZERO_STD = 1e-12


def sharpe_ratio(returns: np.ndarray | pd.Series | pd.DataFrame) -> float | np.ndarray:
    """Per-period Sharpe ratio mean / std(ddof=1) of returns (column-wise for 2-D input; NaN when std is 0).

    >>> round(float(sharpe_ratio(np.array([0.01, -0.02, 0.03]))), 4)
    0.2649
    """
    arr = np.asarray(returns, dtype=float)
    mean = arr.mean(axis=0)
    sd = arr.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = np.where(sd > _ZERO_STD, mean / np.where(sd > _ZERO_STD, sd, 1.0), np.nan)
    return float(sr) if sr.ndim == 0 else sr


def probabilistic_sharpe_ratio(
    sr: float, sr_benchmark: float, n: int, skew: float = 0.0, kurtosis: float = 3.0
) -> float:
    """Probability that the true Sharpe ratio exceeds ``sr_benchmark``, given an estimate ``sr`` from ``n``
    observations with skewness ``skew`` and non-excess ``kurtosis`` (3 = normal). Sharpe ratios per period.

    PSR = Φ((sr − sr_benchmark)·sqrt(n − 1) / sqrt(1 − skew·sr + (kurtosis − 1)/4·sr²)); NaN when n < 2 or the
    variance term is not positive.

    >>> round(probabilistic_sharpe_ratio(0.1, 0.0, 251), 4)  # Φ(0.1·sqrt(250)/sqrt(1.005))
    0.9426
    """
    if n < 2 or not all(math.isfinite(x) for x in (sr, sr_benchmark, skew, kurtosis)):
        return math.nan
    var = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr * sr
    if var <= 0:
        return math.nan
    z = (sr - sr_benchmark) * math.sqrt(n - 1) / math.sqrt(var)
    return float(stats.norm.cdf(z))


def expected_max_sharpe(n_trials: float, sr_variance: float) -> float:
    """Expected maximum of ``n_trials`` unskilled Sharpe estimates whose variance is ``sr_variance`` (per period):
    SR0 = sqrt(V)·((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e))); 0 for a single trial.

    >>> round(expected_max_sharpe(100, 0.5 / 250), 4)  # the paper's example: 0.1132
    0.1132
    """
    if n_trials < 1 or not math.isfinite(sr_variance) or sr_variance < 0:
        raise InvalidInputError("n_trials must be >= 1 and sr_variance finite and >= 0")
    if n_trials == 1 or sr_variance == 0:
        return 0.0
    z = (1.0 - EULER_GAMMA) * stats.norm.ppf(1.0 - 1.0 / n_trials) + EULER_GAMMA * stats.norm.ppf(
        1.0 - 1.0 / (n_trials * math.e)
    )
    return float(math.sqrt(sr_variance) * z)


def sharpe_moments(returns: np.ndarray) -> tuple[float, float, float, int]:
    """(per-period Sharpe, skewness, non-excess kurtosis, n) of one returns vector."""
    r = np.asarray(returns, dtype=float)
    r = r[np.isfinite(r)]
    n = len(r)
    if n < 2:
        return math.nan, math.nan, math.nan, n
    sr = float(sharpe_ratio(r))
    if r.std() <= _ZERO_STD:
        return sr, 0.0, 3.0, n
    skew = float(stats.skew(r, bias=True))
    kurt = float(stats.kurtosis(r, fisher=False, bias=True))
    return sr, skew, kurt, n


def deflated_sharpe_ratio(
    returns_of_best: np.ndarray | pd.Series,
    trial_sharpes: np.ndarray | pd.Series | list[float],
    *,
    n_trials: float | None = None,
    sr_variance: float | None = None,
) -> float:
    """Deflated Sharpe ratio of the selected configuration: PSR of its per-period returns against the expected
    maximum Sharpe ratio SR0 of the trials.

    ``trial_sharpes``: per-period Sharpe ratios of every configuration tried (the selected one included).
    ``n_trials`` overrides N = len(trial_sharpes) (e.g. an effective number of independent trials) and
    ``sr_variance`` overrides V = var(trial_sharpes, ddof=1). Skewness and non-excess kurtosis come from
    ``returns_of_best`` (NaNs dropped).

    >>> rng = np.random.default_rng(0)
    >>> r = rng.normal(0.001, 0.01, (1000, 50))
    >>> s = sharpe_ratio(r)
    >>> 0 <= deflated_sharpe_ratio(r[:, s.argmax()], s) <= 1
    True
    """
    sharpes = np.asarray(trial_sharpes, dtype=float)
    sharpes = sharpes[np.isfinite(sharpes)]
    n = float(len(sharpes)) if n_trials is None else float(n_trials)
    if sr_variance is None:
        if len(sharpes) < 2:
            raise InvalidInputError("need the Sharpe ratios of at least two trials (or sr_variance)")
        sr_variance = float(np.var(sharpes, ddof=1))
    sr0 = expected_max_sharpe(n, sr_variance)
    sr, skew, kurt, n_obs = sharpe_moments(np.asarray(returns_of_best, dtype=float))
    return probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt)


@dataclass(frozen=True)
class PBOResult:
    """CSCV outcome. ``logits``, ``is_sharpe`` and ``oos_sharpe`` have one entry per combination (C(S, S/2)):
    λ of the in-sample winner, and its in-sample / out-of-sample per-period Sharpe ratios (the performance
    degradation pairs). ``degradation_slope`` / ``degradation_intercept``: least-squares fit oos ≈ a + b·is;
    ``prob_oos_loss``: share of combinations whose winner has an out-of-sample Sharpe < 0."""

    pbo: float
    logits: np.ndarray
    is_sharpe: np.ndarray
    oos_sharpe: np.ndarray
    best_in_sample: np.ndarray
    n_splits: int
    n_combinations: int
    degradation_slope: float
    degradation_intercept: float
    prob_oos_loss: float


def _block_sums(matrix: np.ndarray, n_splits: int) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Column means, rows per block, and per-block, per-column sums and squared sums of the data centred on the
    column means (centring keeps the variance from sums numerically stable)."""
    t, n = matrix.shape
    rows = t // n_splits
    m = matrix[t - rows * n_splits :].reshape(n_splits, rows, n)  # drop the oldest t mod S rows
    col_mean = m.mean(axis=(0, 1))
    centred = m - col_mean
    return col_mean, rows, centred.sum(axis=1), (centred**2).sum(axis=1)


def _half_sharpe(col_mean: np.ndarray, count: float, csum: np.ndarray, csq: np.ndarray) -> np.ndarray:
    """Sharpe per (combination, column) of halves of ``count`` rows from centred sums. A zero-variance half scores
    0 when its mean is 0 (a configuration that never trades) and ±inf by the sign of its mean otherwise."""
    cmean = csum / count
    var = (csq - csum * cmean) / (count - 1.0)
    sd = np.sqrt(np.maximum(var, 0.0))
    mean = cmean + col_mean
    flat = ~(sd > _ZERO_STD)
    with np.errstate(divide="ignore", invalid="ignore"):
        sr = mean / sd
    flat_mean = mean[flat]
    sr[flat] = np.where(flat_mean > _ZERO_STD, np.inf, np.where(flat_mean < -_ZERO_STD, -np.inf, 0.0))
    return sr


def _select_and_rank(sr_in: np.ndarray, sr_out: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """In-sample winner per row, its in-sample and out-of-sample Sharpe, and its out-of-sample rank (1 = worst,
    N = best, ties averaged)."""
    rows = np.arange(len(sr_in))
    winner = sr_in.argmax(axis=1)
    chosen = sr_out[rows, winner]
    below = (sr_out < chosen[:, None]).sum(axis=1)
    ties = (sr_out == chosen[:, None]).sum(axis=1)  # the winner itself included
    return winner, sr_in[rows, winner], chosen, below + (ties + 1) / 2.0


def probability_of_backtest_overfitting(
    returns_matrix: np.ndarray | pd.DataFrame,
    n_splits: int = 16,
    *,
    chunk_elements: int = 4_000_000,
) -> PBOResult:
    """PBO by CSCV of a T × N matrix of per-period returns (T periods, N configurations); see the module docstring.

    ``n_splits`` S must be even; the oldest T mod S rows are dropped so the blocks are equal. All C(S, S/2)
    combinations are evaluated, vectorised from per-block sums (chunks of about ``chunk_elements``
    combination × configuration cells bound the memory). Performance is the per-period Sharpe ratio; a half with
    zero variance scores 0 if its mean is 0 (a configuration that never trades) and ±inf by its mean's sign otherwise.
    S is at most 24 (C(24, 12) = 2,704,156 combinations).

    >>> rng = np.random.default_rng(1)
    >>> res = probability_of_backtest_overfitting(rng.normal(size=(400, 10)), n_splits=8)
    >>> res.n_combinations, 0.0 <= res.pbo <= 1.0
    (70, True)
    """
    m = np.asarray(returns_matrix, dtype=float)
    if m.ndim != 2:
        raise InvalidInputError("returns_matrix must be 2-D (T periods × N configurations)")
    t, n = m.shape
    if n_splits < 2 or n_splits % 2 or n_splits > 24:
        raise InvalidInputError(f"n_splits must be an even number from 2 to 24, got {n_splits}")
    if n < 2:
        raise InvalidInputError("need at least two configurations")
    if t // n_splits < 2:
        raise InvalidInputError(f"need at least 2 rows per block: T={t} is too short for {n_splits} splits")
    if not np.isfinite(m).all():
        raise InvalidInputError("returns_matrix contains NaN or inf")

    col_mean, rows, block_sum, block_sq = _block_sums(m, n_splits)
    half = n_splits // 2
    count = float(rows * half)
    combos = np.array(list(itertools.combinations(range(n_splits), half)), dtype=np.int64)
    n_comb = len(combos)
    # Each combination's out-of-sample half is another combination's in-sample half: evaluate each complementary
    # pair once (the combinations holding block 0 against their complements) and fill both results.
    masks = (np.int64(1) << combos).sum(axis=1)  # combinations as bit sets
    order = np.argsort(masks)
    firsts = np.flatnonzero(combos[:, 0] == 0)
    seconds = order[np.searchsorted(masks[order], ((1 << n_splits) - 1) ^ masks[firsts])]
    membership = np.zeros((len(firsts), n_splits))
    membership[np.arange(len(firsts))[:, None], combos[firsts]] = 1.0
    total_sum, total_sq = block_sum.sum(axis=0), block_sq.sum(axis=0)

    best = np.empty(n_comb, dtype=np.intp)
    is_sr = np.empty(n_comb)
    oos_sr = np.empty(n_comb)
    oos_rank = np.empty(n_comb)
    step = max(1, chunk_elements // (2 * n))
    for lo in range(0, len(firsts), step):
        a = membership[lo : lo + step]
        csum = a @ block_sum
        csq = a @ block_sq
        sr_a = _half_sharpe(col_mean, count, csum, csq)
        sr_b = _half_sharpe(col_mean, count, total_sum - csum, total_sq - csq)
        for target, (sr_in, sr_out) in (
            (firsts[lo : lo + step], (sr_a, sr_b)),
            (seconds[lo : lo + step], (sr_b, sr_a)),
        ):
            best[target], is_sr[target], oos_sr[target], oos_rank[target] = _select_and_rank(sr_in, sr_out)

    omega = oos_rank / (n + 1.0)
    logits = np.log(omega / (1.0 - omega))
    finite = np.isfinite(is_sr) & np.isfinite(oos_sr)
    if finite.sum() >= 2 and np.ptp(is_sr[finite]) > 0:
        slope, intercept = np.polyfit(is_sr[finite], oos_sr[finite], 1)
    else:
        slope, intercept = math.nan, math.nan
    return PBOResult(
        pbo=float((logits <= 0).mean()),
        logits=logits,
        is_sharpe=is_sr,
        oos_sharpe=oos_sr,
        best_in_sample=best,
        n_splits=n_splits,
        n_combinations=n_comb,
        degradation_slope=float(slope),
        degradation_intercept=float(intercept),
        prob_oos_loss=float((oos_sr < 0).mean()),
    )


@dataclass(frozen=True)
class OverfittingReport:
    """Default overfitting statistics of one sweep (per-period Sharpe ratios)."""

    n_trials: int
    n_obs: int
    best: int | str
    best_sharpe: float
    expected_max_sharpe: float
    deflated_sharpe: float
    pbo: PBOResult | None

    def as_dict(self) -> dict[str, float | int | str | None]:
        """Flat, JSON-friendly summary (NaN → None)."""

        def clean(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        return {
            "n_trials": self.n_trials,
            "n_obs": self.n_obs,
            "best": self.best,
            "best_sharpe": clean(self.best_sharpe),
            "expected_max_sharpe": clean(self.expected_max_sharpe),
            "deflated_sharpe": clean(self.deflated_sharpe),
            "pbo": None if self.pbo is None else clean(self.pbo.pbo),
            "pbo_degradation_slope": None if self.pbo is None else clean(self.pbo.degradation_slope),
            "pbo_prob_oos_loss": None if self.pbo is None else clean(self.pbo.prob_oos_loss),
        }


def overfitting_report(returns_matrix: pd.DataFrame | np.ndarray, n_splits: int = 16) -> OverfittingReport:
    """DSR of the best (highest per-period Sharpe) column and PBO by CSCV for a sweep's T × N per-period returns
    (columns = configurations). PBO is None when T is too short for ``n_splits`` blocks of 2 rows or N < 2.

    >>> rng = np.random.default_rng(2)
    >>> rep = overfitting_report(pd.DataFrame(rng.normal(size=(320, 4))), n_splits=4)
    >>> rep.n_trials, rep.pbo.n_combinations
    (4, 6)
    """
    frame = pd.DataFrame(returns_matrix)
    m = frame.to_numpy(dtype=float)
    sharpes = np.asarray(sharpe_ratio(m), dtype=float).reshape(-1)
    ranked = np.where(np.isfinite(sharpes), sharpes, -np.inf)
    i = int(ranked.argmax())
    n = m.shape[1]
    valid = sharpes[np.isfinite(sharpes)]
    var = float(np.var(valid, ddof=1)) if len(valid) > 1 else 0.0
    sr0 = expected_max_sharpe(n, var)
    sr, skew, kurt, n_obs = sharpe_moments(m[:, i])
    pbo = None
    if n >= 2 and m.shape[0] // n_splits >= 2 and np.isfinite(m).all():
        pbo = probability_of_backtest_overfitting(m, n_splits)
    label = frame.columns[i]
    return OverfittingReport(
        n_trials=n,
        n_obs=n_obs,
        best=label if isinstance(label, str) else i,
        best_sharpe=sr,
        expected_max_sharpe=sr0,
        deflated_sharpe=probabilistic_sharpe_ratio(sr, sr0, n_obs, skew, kurt),
        pbo=pbo,
    )
