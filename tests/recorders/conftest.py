"""A simulated Binance (real HTTP on 127.0.0.1, real ccxt) and a store configured to record from it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from zvt_crypto.contract.config import Config, load_config
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import to_ms
from zvt_crypto.sim import DEFAULT_NOW, SimulatedExchange

NOW = to_ms(DEFAULT_NOW)  # 2024-01-08T00:00:00Z
HOUR = 3_600_000


@pytest.fixture
def sim_config(sim: SimulatedExchange, tmp_path: Path) -> Config:
    """The user's path: a TOML file whose [exchanges.<id>.ccxt] sections point ccxt at the simulator."""
    path = tmp_path / "zvt_crypto.toml"
    path.write_text(sim.config_toml())
    return load_config(path, home=tmp_path / "home")


@pytest.fixture
def sim_store(sim_config: Config) -> Iterator[Store]:
    store = Store(sim_config)
    yield store
    store.dispose()
