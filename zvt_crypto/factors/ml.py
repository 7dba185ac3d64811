"""ML factors: scikit-learn models trained walk-forward on other factors' outputs, predictions stored as a factor.

Label: the forward return over ``horizon`` bars, ``close[t + horizon] / close[t] − 1`` — positive when the
price rises. Walk-forward without look-ahead: models are refit at retrain points on a fixed grid (every
``retrain_every`` bars from the epoch, so an incremental run refits at the same points as a full one); the
model used for bar ``t`` was fitted at the last retrain point ``T ≤ t`` on samples ``s`` whose label was
known at ``T``: ``s + horizon ≤ T`` (in bars). ``window="expanding"`` trains on every such sample,
``window="rolling"`` on the last ``train_bars`` of them.

>>> from zvt_crypto.factors import compute_factor, make_factor
>>> ml = make_factor("ml_forecast", {"features": "rsi,roc,natr", "horizon": 12})  # doctest: +SKIP
>>> compute_factor(ml, exchange="binance", symbols=["BTC/USDT", "ETH/USDT"], level="1h")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.levels import Level
from zvt_crypto.factors.base import Factor, get_factor
from zvt_crypto.factors.data import FactorInput

MODELS = ("ridge", "hgb", "forest")


def forward_return(close: pd.Series, horizon: int) -> pd.Series:
    """``close[t + horizon] / close[t] − 1`` per entity (NaN where the future bar is not there yet)."""
    future = close.groupby(level="entity_id", observed=True, sort=False).shift(-horizon)
    return future / close - 1.0


def make_model(kind: str, seed: int = 0) -> Any:
    """A deterministic scikit-learn regressor: ``ridge`` (scaled linear), ``hgb`` (gradient boosting),
    ``forest`` (random forest)."""
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if kind == "ridge":
        return make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    if kind == "hgb":
        return HistGradientBoostingRegressor(max_iter=100, learning_rate=0.05, random_state=seed)
    if kind == "forest":
        return RandomForestRegressor(n_estimators=100, min_samples_leaf=20, random_state=seed, n_jobs=1)
    raise InvalidInputError(f"unknown model {kind!r}; use one of {', '.join(MODELS)}")


class MLForecast(Factor):
    """Walk-forward forecast of the forward return from other factors (features) with scikit-learn."""

    name = "ml_forecast"
    outputs = ("prediction",)
    params = {"features": "rsi,roc,natr", "horizon": 12, "model": "ridge", "window": "expanding",
              "train_bars": 2000, "retrain_every": 168, "min_train": 200}
    category = "ml"

    def validate(self) -> None:
        for key in ("horizon", "train_bars", "retrain_every", "min_train"):
            if self.p[key] < 1:
                raise InvalidInputError(f"ml_forecast: {key} must be ≥ 1, got {self.p[key]}")
        if self.p["model"] not in MODELS:
            raise InvalidInputError(f"ml_forecast: model must be one of {', '.join(MODELS)}, got {self.p['model']!r}")
        if self.p["window"] not in ("expanding", "rolling"):
            raise InvalidInputError(f"ml_forecast: window must be 'expanding' or 'rolling', got {self.p['window']!r}")
        self.feature_factors()  # unknown feature names fail here, before any data is read

    def feature_factors(self) -> list[Factor]:
        names = [name.strip() for name in self.p["features"].split(",") if name.strip()]
        if not names:
            raise InvalidInputError("ml_forecast: features must name at least one factor, e.g. features=rsi,roc")
        if self.name in names:
            raise InvalidInputError("ml_forecast cannot use itself as a feature")
        return [get_factor(name)() for name in names]

    def warmup(self, level: Level) -> int | None:
        if self.p["window"] == "expanding":
            return None  # every earlier sample trains the model: the whole history
        features = self.feature_factors()
        feature_warmups = [warmup for factor in features if (warmup := factor.warmup(level)) is not None]
        if len(feature_warmups) < len(features):
            return None
        return self.p["retrain_every"] + self.p["horizon"] + self.p["train_bars"] + max(feature_warmups)

    def features(self, data: FactorInput) -> pd.DataFrame:
        """Every output of every feature factor, plus the last 1, 4 and 24-bar returns."""
        parts = []
        for factor in self.feature_factors():
            values = factor.compute(data)
            parts.append(values.add_prefix(f"{factor.name}."))
        close = data.bars()["close"]
        by_entity = close.groupby(level="entity_id", observed=True, sort=False)
        for lag in (1, 4, 24):
            parts.append(by_entity.pct_change(lag, fill_method=None).rename(f"return_{lag}").to_frame())
        return pd.concat(parts, axis=1)

    def compute(self, data: FactorInput) -> pd.DataFrame:
        bars = data.bars()
        features = self.features(data).replace([np.inf, -np.inf], np.nan)
        label = forward_return(bars["close"], self.p["horizon"])
        step = data.level.ms
        times = pd.DatetimeIndex(bars.index.get_level_values("timestamp")).as_unit("ms").asi8
        bar_no = times // step  # bar number since the epoch: the retrain grid does not depend on the input
        retrain_at = bar_no - bar_no % self.p["retrain_every"]
        usable = features.notna().all(axis=1).to_numpy()
        labelled = usable & label.notna().to_numpy()
        prediction = np.full(len(bars), np.nan)
        X, y = features.to_numpy(dtype="float64"), label.to_numpy(dtype="float64")
        first_kept = -1 if data.output_from_ms is None else data.output_from_ms // step
        for point in np.unique(retrain_at):
            if point + self.p["retrain_every"] <= first_kept:
                continue  # this model's predictions are all warm-up: stored already
            # samples whose label was known at the retrain point: s + horizon ≤ point
            train = labelled & (bar_no + self.p["horizon"] <= point)
            if self.p["window"] == "rolling":
                train &= bar_no > point - self.p["horizon"] - self.p["train_bars"]
            target = (retrain_at == point) & usable
            if train.sum() < self.p["min_train"] or not target.any():
                continue
            model = make_model(self.p["model"])
            model.fit(X[train], y[train])
            prediction[target] = model.predict(X[target])
        return pd.DataFrame({"prediction": prediction}, index=bars.index)

    def signals(self, values: pd.DataFrame) -> pd.DataFrame:
        """Score: the prediction's rank across entities per bar; filter: its sign (long above 0, short below)."""
        prediction = values["prediction"]
        score = prediction.groupby(level="timestamp").rank(pct=True)
        side = np.sign(prediction).astype("float64")
        return pd.DataFrame({"score_result": score, "filter_result": side.where(prediction.notna())},
                            index=values.index)
