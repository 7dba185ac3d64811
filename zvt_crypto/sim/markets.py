"""The simulated venue's universe: which markets exist, when, and with which trading rules.

Why: recorders must meet what Binance really serves — pairs listed at different times, a halted (``BREAK``) pair,
USDⓈ-M perpetuals with their own tick and lot sizes — so a :class:`MarketSpec` carries exactly the fields
``exchangeInfo`` needs and the knobs of the deterministic data (price level, volatility, activity).
Tick and lot sizes are powers of ten, so prices and quantities are exact integers of ticks and steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.timeutil import TimeLike, to_ms
from zvt_crypto.sim.intervals import DAY_MS, MINUTE_MS

SPOT = "spot"
USDM = "usdm"


@dataclass(frozen=True)
class MarketSpec:
    """One market. ``symbol`` is ccxt's unified symbol: ``"BTC/USDT"`` for spot, ``"BTC/USDT:USDT"`` for a
    USDⓈ-M perpetual. The market does not exist before ``listed``; from ``delisted`` on it is halted (status
    ``BREAK``) and has no new bars. ``price`` is the price at ``anchor`` (default: UTC midnight of the listing
    day); a spot pair and its perpetual with the same anchor and price agree at every UTC midnight."""

    symbol: str
    listed: TimeLike
    price: float
    delisted: TimeLike | None = None
    anchor: TimeLike | None = None
    tick_size: str = "0.01"
    step_size: str = "0.00001"
    min_qty: str | None = None
    max_qty: str = "9000"
    min_notional: str = "5"
    notional_filter: str = "NOTIONAL"
    price_precision: int | None = None
    daily_vol: float = 0.03
    trades_per_minute: float = 6.0
    mean_qty: float = 0.1
    open_interest: float = 50_000.0


def decimals_of(step: str) -> int:
    """Number of decimals of a power-of-ten step (``"0.001"`` → 3); anything else is rejected."""
    value = Decimal(step)
    exponent = value.normalize().as_tuple().exponent
    # (a NaN or an infinity has a letter for exponent)
    if not isinstance(exponent, int) or value <= 0 or value > 1 or value != Decimal(1).scaleb(exponent):
        raise InvalidInputError(f"step {step!r} must be a power of ten not above 1, such as '0.01'")
    return -int(exponent)


@dataclass(frozen=True)
class Market:
    """A :class:`MarketSpec` resolved: Binance id, venue, epoch-ms times and decimal counts."""

    spec: MarketSpec
    symbol: str
    id: str
    base: str
    quote: str
    settle: str | None
    venue: str
    listed_ms: int
    delisted_ms: int | None
    anchor_ms: int
    price_dp: int
    qty_dp: int

    @property
    def perp(self) -> bool:
        return self.venue == USDM

    @property
    def pair(self) -> str:
        """``BASE/QUOTE``: the key of the shared day-level price walk."""
        return f"{self.base}/{self.quote}"

    @property
    def price_out(self) -> int:
        """Decimals printed for prices: 8 on spot (as Binance), ``pricePrecision`` on futures."""
        return 8 if self.venue == SPOT else (self.spec.price_precision or self.price_dp)

    @property
    def qty_out(self) -> int:
        return 8 if self.venue == SPOT else self.qty_dp

    def status(self, now_ms: int) -> str:
        """Binance's status: ``TRADING``, or once delisted ``BREAK`` (spot) / ``SETTLING`` (futures)."""
        if self.delisted_ms is None or now_ms < self.delisted_ms:
            return "TRADING"
        return "BREAK" if self.venue == SPOT else "SETTLING"

    def last_data_ms(self, now_ms: int) -> int:
        """Last millisecond with market data as of ``now_ms``."""
        return now_ms if self.delisted_ms is None else min(now_ms, self.delisted_ms - 1)


def resolve(spec: MarketSpec) -> Market:
    """Validate ``spec`` and derive its Binance fields."""
    symbol, _, settle = spec.symbol.partition(":")
    base, _, quote = symbol.partition("/")
    if not base or not quote or (spec.symbol.count(":") and not settle):
        raise InvalidInputError(f"market symbol {spec.symbol!r} must look like 'BTC/USDT' or 'BTC/USDT:USDT'")
    if settle and settle != quote:
        raise InvalidInputError(
            f"{spec.symbol!r}: only linear (USDⓈ-M) perpetuals are simulated; settle must be {quote}")
    listed = to_ms(spec.listed)
    anchor = to_ms(spec.anchor) if spec.anchor is not None else listed - listed % DAY_MS
    if anchor % DAY_MS or anchor > listed:
        raise InvalidInputError(f"{spec.symbol!r}: anchor must be a UTC midnight at or before the listing")
    delisted = to_ms(spec.delisted) if spec.delisted is not None else None
    if listed % MINUTE_MS or (delisted or 0) % MINUTE_MS:
        raise InvalidInputError(f"{spec.symbol!r}: listed and delisted must be whole minutes")
    if delisted is not None and delisted <= listed:
        raise InvalidInputError(f"{spec.symbol!r}: delisted must be after listed")
    if spec.price <= 0 or spec.daily_vol <= 0 or spec.trades_per_minute <= 0 or spec.mean_qty <= 0:
        raise InvalidInputError(f"{spec.symbol!r}: price, daily_vol, trades_per_minute and mean_qty must be positive")
    return Market(
        spec=spec,
        symbol=spec.symbol,
        id=f"{base}{quote}",
        base=base,
        quote=quote,
        settle=settle or None,
        venue=USDM if settle else SPOT,
        listed_ms=listed,
        delisted_ms=delisted,
        anchor_ms=anchor,
        price_dp=decimals_of(spec.tick_size),
        qty_dp=decimals_of(spec.step_size),
    )


def default_markets() -> list[MarketSpec]:
    """Spot BTC/ETH/SOL (SOL listed two months later), LUNA/USDT halted in November 2023, and the BTC and ETH
    USDⓈ-M perpetuals (sharing the spot day walk). Short histories keep first requests fast."""
    return [
        MarketSpec("BTC/USDT", "2023-10-02", 27_500.0, daily_vol=0.025, trades_per_minute=8, mean_qty=0.25),
        MarketSpec("ETH/USDT", "2023-10-02", 1_700.0, step_size="0.0001", trades_per_minute=6, mean_qty=3.0),
        MarketSpec(
            "SOL/USDT", "2023-12-04T08:00:00Z", 62.0, anchor="2023-12-04", step_size="0.001", daily_vol=0.045,
            trades_per_minute=4, mean_qty=30.0,
        ),
        MarketSpec(
            "LUNA/USDT", "2023-10-02", 0.85, delisted="2023-11-20T06:00:00Z", tick_size="0.0001", step_size="0.01",
            min_notional="10", notional_filter="MIN_NOTIONAL", daily_vol=0.06, trades_per_minute=2, mean_qty=400.0,
        ),
        MarketSpec(
            "BTC/USDT:USDT", "2023-10-02", 27_500.0, tick_size="0.1", step_size="0.001", max_qty="1000",
            min_notional="100", price_precision=2, daily_vol=0.025, trades_per_minute=10, mean_qty=0.8,
            open_interest=80_000.0,
        ),
        MarketSpec(
            "ETH/USDT:USDT", "2023-10-02", 1_700.0, step_size="0.001", max_qty="10000", min_notional="20",
            trades_per_minute=8, mean_qty=10.0, open_interest=900_000.0,
        ),
    ]
