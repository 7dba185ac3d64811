"""Deflated Sharpe ratio and PBO (CSCV) against the papers' worked example, Monte Carlo and a brute-force CSCV."""

from __future__ import annotations

import doctest
import itertools
import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.trader import overfitting as overfitting_module
from zvt_crypto.trader.overfitting import (
    deflated_sharpe_ratio,
    expected_max_sharpe,
    overfitting_report,
    probabilistic_sharpe_ratio,
    probability_of_backtest_overfitting,
    sharpe_ratio,
)


def phi(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


def test_psr_closed_form():
    assert probabilistic_sharpe_ratio(0.1, 0.1, 500) == pytest.approx(0.5)
    # Normal returns (skew 0, kurtosis 3): variance term 1 + SR²/2.
    z = 0.1 * math.sqrt(250) / math.sqrt(1 + 0.1**2 / 2)
    assert probabilistic_sharpe_ratio(0.1, 0.0, 251) == pytest.approx(phi(z))
    # Negative skew and fat tails widen the band: lower PSR for the same estimate.
    assert probabilistic_sharpe_ratio(0.1, 0.0, 251, -1.0, 6.0) < probabilistic_sharpe_ratio(0.1, 0.0, 251)
    assert math.isnan(probabilistic_sharpe_ratio(0.1, 0.0, 1))


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_psr_non_normal_matches_monte_carlo(sign):
    """Returns μ ± (Exp(1) − 1): std 1, skewness ±2, non-excess kurtosis 9, true per-period SR = μ.

    P(SR̂ ≤ q) from 20,000 simulated samples of T = 250 must match PSR with the true moments (standard error of
    the simulated share ≈ 0.0035; the remaining gap is the estimator's O(1/T) bias) and not the normal-theory PSR.
    """
    rng = np.random.default_rng(7)
    mu, t, q = 0.1, 250, 0.15
    r = mu + sign * (rng.exponential(1.0, (20_000, t)) - 1.0)
    sr = r.mean(axis=1) / r.std(axis=1, ddof=1)
    simulated = float((sr <= q).mean())
    corrected = probabilistic_sharpe_ratio(q, mu, t, 2.0 * sign, 9.0)
    normal = probabilistic_sharpe_ratio(q, mu, t, 0.0, 3.0)
    assert corrected == pytest.approx(simulated, abs=0.015)
    assert abs(normal - simulated) > 0.025


@pytest.mark.parametrize("n", [10, 100, 1000])
def test_expected_max_sharpe_approximates_the_exact_expected_maximum(n):
    # Exact E[max of n standard normals] = ∫ x · n φ(x) Φ(x)^(n−1) dx; the paper's formula is within a few %.
    exact, _ = integrate.quad(lambda x: x * n * stats.norm.pdf(x) * stats.norm.cdf(x) ** (n - 1), -10, 10)
    assert expected_max_sharpe(n, 1.0) == pytest.approx(exact, rel=0.03)
    assert expected_max_sharpe(n, 4.0) == pytest.approx(2 * expected_max_sharpe(n, 1.0))


def test_expected_max_sharpe_matches_monte_carlo_of_sharpe_estimates():
    # 400 sweeps of 100 unskilled strategies, 250 normal returns each: the mean of the best Sharpe estimate.
    rng = np.random.default_rng(11)
    z = rng.normal(size=(400, 250, 100))
    s = z.mean(axis=1) / z.std(axis=1, ddof=1)
    simulated = float(s.max(axis=1).mean())  # standard error ≈ 0.0014 (0.9 %)
    assert expected_max_sharpe(100, float(s.var(axis=1, ddof=1).mean())) == pytest.approx(simulated, rel=0.03)
    assert expected_max_sharpe(1, 0.5) == 0.0


def test_dsr_paper_example():
    """Bailey & López de Prado (2014), numerical example: N = 100 trials, V[SR] = 1/2 annualised, best SR 2.5
    annualised over T = 1250 daily observations, skewness −3, kurtosis 10, 250 days a year: SR0 ≈ 0.1132 per day
    and DSR ≈ 0.9004."""
    sr0 = expected_max_sharpe(100, 0.5 / 250)
    assert sr0 == pytest.approx(0.1132, abs=5e-5)
    dsr = probabilistic_sharpe_ratio(2.5 / math.sqrt(250), sr0, 1250, -3.0, 10.0)
    assert dsr == pytest.approx(0.9004, abs=5e-5)


def test_dsr_from_returns_uses_their_moments_and_falls_with_more_trials():
    rng = np.random.default_rng(5)
    r = rng.standard_t(5, 1000) * 0.01 + 0.001
    trials = rng.normal(0.0, 0.03, 50)
    sr = r.mean() / r.std(ddof=1)
    skew = np.mean((r - r.mean()) ** 3) / r.std() ** 3
    kurt = np.mean((r - r.mean()) ** 4) / r.std() ** 4
    sr0 = math.sqrt(np.var(trials, ddof=1)) * (
        (1 - np.euler_gamma) * stats.norm.ppf(1 - 1 / 50) + np.euler_gamma * stats.norm.ppf(1 - 1 / (50 * math.e))
    )
    z = (sr - sr0) * math.sqrt(999) / math.sqrt(1 - skew * sr + (kurt - 1) / 4 * sr**2)
    assert deflated_sharpe_ratio(r, trials) == pytest.approx(phi(z))

    dsrs = [deflated_sharpe_ratio(r, trials, n_trials=n) for n in (1, 2, 10, 100, 1000, 10_000)]
    assert dsrs[0] == pytest.approx(probabilistic_sharpe_ratio(sr, 0.0, 1000, skew, kurt))
    assert all(a > b for a, b in itertools.pairwise(dsrs))
    more_dispersed = deflated_sharpe_ratio(r, trials, sr_variance=4 * np.var(trials, ddof=1))
    assert more_dispersed < deflated_sharpe_ratio(r, trials)


def test_dsr_separates_luck_from_skill():
    rng = np.random.default_rng(9)
    # 200 sweeps of 50 unskilled configurations: the best one looks significant alone (PSR > 0.95 in most
    # sweeps) but almost never once deflated; its DSR centres on 1/2 (it sits at the expected maximum).
    psr, dsr = [], []
    for _ in range(200):
        noise = rng.normal(0.0, 0.01, (500, 50))
        sharpes = sharpe_ratio(noise)
        best = int(np.argmax(sharpes))
        psr.append(probabilistic_sharpe_ratio(sharpes[best], 0.0, 500))
        dsr.append(deflated_sharpe_ratio(noise[:, best], sharpes))
    assert np.mean(np.array(psr) > 0.95) > 0.8
    assert np.mean(np.array(dsr) > 0.95) <= 0.05
    assert 0.35 < np.median(dsr) < 0.65

    skilled = rng.normal(0.0, 0.01, (1000, 200))
    skilled[:, 0] += 0.002  # per-period SR ≈ 0.2: far above the noise's expected maximum (≈ 0.09)
    sharpes = sharpe_ratio(skilled)
    assert int(np.argmax(sharpes)) == 0
    assert deflated_sharpe_ratio(skilled[:, 0], sharpes) > 0.99


def brute_force_cscv(m: np.ndarray, s: int) -> np.ndarray:
    """Reference CSCV, one combination at a time, with scipy's average ranks."""
    m = m[len(m) % s :]
    blocks = np.array_split(np.arange(len(m)), s)
    logits = []
    for combo in itertools.combinations(range(s), s // 2):
        ins = np.concatenate([blocks[i] for i in combo])
        oos = np.concatenate([blocks[i] for i in range(s) if i not in combo])
        sr_in = m[ins].mean(0) / m[ins].std(0, ddof=1)
        sr_out = m[oos].mean(0) / m[oos].std(0, ddof=1)
        omega = stats.rankdata(sr_out)[np.argmax(sr_in)] / (m.shape[1] + 1)
        logits.append(math.log(omega / (1 - omega)))
    return np.array(logits)


@pytest.mark.parametrize(("t", "n", "s"), [(203, 7, 6), (160, 12, 8), (64, 3, 2)])
def test_pbo_matches_brute_force(t, n, s):
    m = np.random.default_rng(t).normal(0.0, 1.0, (t, n))
    res = probability_of_backtest_overfitting(m, n_splits=s)
    expected = brute_force_cscv(m, s)
    assert res.n_combinations == math.comb(s, s // 2) == len(res.logits)
    np.testing.assert_allclose(res.logits, expected, rtol=0, atol=1e-9)
    assert res.pbo == pytest.approx(np.mean(expected <= 0))
    # The chunked path gives the same numbers.
    small = probability_of_backtest_overfitting(m, n_splits=s, chunk_elements=1)
    np.testing.assert_allclose(small.logits, res.logits)


def test_pbo_default_splits_count_and_dominant_configuration():
    rng = np.random.default_rng(1)
    m = rng.normal(0.0, 1.0, (2000, 100))
    m[:, 42] += 0.5  # per-period SR 0.5 vs noise SR ≈ ±0.03 over a half: always first, in and out of sample
    res = probability_of_backtest_overfitting(m)
    assert res.n_splits == 16 and res.n_combinations == 12_870 == len(res.logits)
    assert res.pbo == 0.0
    assert (res.best_in_sample == 42).all()
    # Rank N of N: ω = N / (N + 1), λ = ln N > 0 (positive logit = the winner stays above the OOS median).
    np.testing.assert_allclose(res.logits, math.log(100))
    assert res.prob_oos_loss == 0.0
    assert len(res.is_sharpe) == len(res.oos_sharpe) == 12_870


def test_pbo_scores_a_configuration_that_never_trades_as_sharpe_zero():
    # All trading configurations lose money; the one that never trades (all-zero returns) is the best in every half.
    rng = np.random.default_rng(6)
    m = rng.normal(-0.5, 1.0, (320, 6))
    m[:, 3] = 0.0
    res = probability_of_backtest_overfitting(m, n_splits=8)
    assert (res.best_in_sample == 3).all() and res.pbo == 0.0
    assert (res.is_sharpe == 0).all() and (res.oos_sharpe == 0).all()


def test_pbo_is_one_when_the_in_sample_winner_is_always_the_out_of_sample_loser():
    # Each column is a shuffle of the same ±1 returns: in-sample + out-of-sample sums are equal across columns, and
    # for ±1 data the Sharpe ratio rises with the mean, so the best half is always paired with the worst half.
    rng = np.random.default_rng(2)
    base = np.r_[np.ones(240), -np.ones(160)]
    m = np.column_stack([rng.permutation(base) for _ in range(10)])
    res = probability_of_backtest_overfitting(m, n_splits=8)
    assert res.pbo == 1.0
    assert (res.logits <= 0).all()
    assert res.degradation_slope < 0  # performance degradation: higher in-sample, lower out-of-sample


def test_pbo_of_pure_noise_is_one_half():
    """For iid noise the out-of-sample rank of the in-sample winner is uniform on 1..N (the halves are disjoint),
    so with N even E[PBO] = P(rank ≤ N/2) = 1/2 exactly. One matrix's PBO is very noisy (its combinations share
    data: measured sd ≈ 0.2), so average 400 matrices: PBO ∈ [0, 1] has sd ≤ 0.5, the mean's standard error is
    ≤ 0.025, and 0.1 is four of those."""
    rng = np.random.default_rng(2024)
    pbos = [probability_of_backtest_overfitting(rng.normal(size=(400, 10)), n_splits=8).pbo for _ in range(400)]
    assert np.mean(pbos) == pytest.approx(0.5, abs=0.1)
    assert np.std(pbos) > 0.1  # why one matrix alone could not be tested tightly


def test_pbo_timing_n100_t2000():
    m = np.random.default_rng(0).normal(0.0, 0.01, (2000, 100))
    probability_of_backtest_overfitting(m)
    runs = []
    for _ in range(3):
        start = time.perf_counter()
        probability_of_backtest_overfitting(m)
        runs.append(time.perf_counter() - start)
    assert sorted(runs)[1] < 1.0, runs  # ≈ 0.12 s on the 2-core reference machine


def test_pbo_input_validation():
    m = np.zeros((100, 4))
    with pytest.raises(InvalidInputError):
        probability_of_backtest_overfitting(m, n_splits=5)
    with pytest.raises(InvalidInputError):
        probability_of_backtest_overfitting(np.zeros((1000, 4)), n_splits=26)
    with pytest.raises(InvalidInputError):
        probability_of_backtest_overfitting(np.zeros((31, 4)), n_splits=16)
    with pytest.raises(InvalidInputError):
        probability_of_backtest_overfitting(np.zeros((100, 1)))
    m[3, 1] = np.nan
    with pytest.raises(InvalidInputError):
        probability_of_backtest_overfitting(m)


def test_overfitting_report_of_a_sweep():
    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.normal(0.0, 0.01, (1600, 20)), columns=[f"fast={i}" for i in range(20)])
    frame["fast=7"] += 0.003
    rep = overfitting_report(frame)
    assert rep.best == "fast=7" and rep.n_trials == 20 and rep.n_obs == 1600
    sharpes = sharpe_ratio(frame.to_numpy())
    assert rep.best_sharpe == pytest.approx(sharpes[7])
    assert rep.deflated_sharpe == pytest.approx(deflated_sharpe_ratio(frame["fast=7"], sharpes))
    assert rep.pbo is not None and rep.pbo.pbo == 0.0
    summary = json.loads(json.dumps(rep.as_dict(), allow_nan=False))
    assert summary["pbo"] == 0.0 and summary["best"] == "fast=7"
    # Too short for 16 blocks of two rows: DSR still, no PBO.
    assert overfitting_report(frame.iloc[:20]).pbo is None


def test_docstring_examples():
    result = doctest.testmod(overfitting_module)
    assert result.attempted > 0 and result.failed == 0
