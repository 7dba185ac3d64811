"""Which fee rates a backtest charges, and where each came from.

In order: ``fee=`` (``--fee``) for every market; else the market's own maker / taker rates as recorded from the
venue (source ``"market"``); else — for markets imported without fee data — the venue's published default from
ccxt's static fee table (``"ccxt binance default"``: read from the exchange class, no network); else the
fee is unknown and a backtest on a venue's data refuses to run rather than trade for free. Frames built without a
venue (``MarketData.from_frame`` without ``exchange``) charge 0 and say so.

>>> venue_default_fees("binance", perp=False)
(0.001, 0.001, 'ccxt binance default')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from zvt_crypto.contract.errors import InvalidInputError

if TYPE_CHECKING:
    from zvt_crypto.trader.data import SymbolSpec

GIVEN = "--fee"
MARKET = "market"
NONE_GIVEN = "none given: 0 (a frame without a venue)"
#: ccxt's fee sections for perps, most specific first (binance: ``linear``; okx: ``swap``)
_PERP_SECTIONS = ("linear", "swap", "future")


@dataclass(frozen=True)
class FeeSchedule:
    """Maker and taker rates per market (in the data's column order) and where each came from."""

    symbols: tuple[str, ...]
    maker: tuple[float, ...]
    taker: tuple[float, ...]
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """``{symbol: {"maker": …, "taker": …, "source": …}}`` (stored with a run)."""
        return {symbol: {"maker": maker, "taker": taker, "source": source}
                for symbol, maker, taker, source in zip(self.symbols, self.maker, self.taker, self.sources,
                                                        strict=True)}

    @classmethod
    def from_dict(cls, fees: Mapping[str, Mapping[str, Any]]) -> FeeSchedule:
        """The inverse of :meth:`to_dict` (a stored run's ``settings["fees"]``)."""
        return cls(tuple(fees), tuple(float(v["maker"]) for v in fees.values()),
                   tuple(float(v["taker"]) for v in fees.values()), tuple(str(v["source"]) for v in fees.values()))

    def describe(self) -> str:
        """One line, markets with the same fees grouped: ``fees: taker 0.1 %, maker 0.1 % (ccxt binance default)
        on BTC/USDT, ETH/USDT``."""
        groups: dict[tuple[float, float, str], list[str]] = {}
        for symbol, maker, taker, source in zip(self.symbols, self.maker, self.taker, self.sources, strict=True):
            groups.setdefault((taker, maker, source), []).append(symbol)
        return "fees: " + "; ".join(f"taker {_percent(taker)}, maker {_percent(maker)} ({source}) on "
                                    f"{', '.join(symbols)}" for (taker, maker, source), symbols in groups.items())


def _percent(rate: float) -> str:
    return f"{rate * 100:.4g} %"


def venue_default_fees(exchange: str, *, perp: bool) -> tuple[float, float, str] | None:
    """``(maker, taker, source)`` from ccxt's static fee table of ``exchange`` (the class's ``describe()``; no
    network, no markets loaded), the perp section for perps; None when ccxt has no such exchange or no rate."""
    import ccxt

    if exchange not in ccxt.exchanges:
        return None
    fees = getattr(ccxt, exchange)().describe().get("fees") or {}
    sections = [(name, fees.get(name)) for name in _PERP_SECTIONS] if perp else [("spot", fees.get("spot"))]
    for name, section in [*sections, ("", fees)]:
        if not isinstance(section, Mapping):
            continue
        trading = section.get("trading")
        table = trading if isinstance(trading, Mapping) else section
        taker, maker = _rate(table.get("taker")), _rate(table.get("maker"))
        if taker is not None and table.get("percentage") is not False:
            label = f"ccxt {exchange}{' ' + name if name else ''} default"
            return (taker if maker is None else maker), taker, label
    return None


def _rate(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if -0.01 <= value < 0.1 else None


def fee_pair(fee: float | Sequence[float]) -> tuple[float, float]:
    """``(maker, taker)`` of a given fee (one rate for both, or a pair); the one check of a fee's value."""
    pair: tuple[Any, ...] = ()
    if isinstance(fee, int | float) and not isinstance(fee, bool):
        pair = (fee, fee)
    elif isinstance(fee, Sequence) and not isinstance(fee, str):
        pair = tuple(fee)
    if len(pair) != 2 or any(_rate(x) is None for x in pair):
        raise InvalidInputError(f"fee must be a rate in [-0.01, 0.1) or a (maker, taker) pair, got {fee!r}")
    return float(pair[0]), float(pair[1])


def resolve_fees(specs: Sequence[SymbolSpec], fee: float | Sequence[float] | None, *,
                 exchange: str | None) -> FeeSchedule:
    """The fees a backtest charges on ``specs`` (see the module docstring); an :class:`InvalidInputError` asking
    for ``--fee`` when a venue's market has none."""
    symbols = tuple(spec.symbol for spec in specs)
    if fee is not None:
        pair = fee_pair(fee)
        n = len(specs)
        return FeeSchedule(symbols, (pair[0],) * n, (pair[1],) * n, (GIVEN,) * n)
    unknown = [spec.symbol for spec in specs if spec.taker_fee is None]
    if unknown and exchange is not None:
        raise InvalidInputError(
            f"no fee known for {', '.join(unknown)} on {exchange}: the stored market has no fee data and ccxt has "
            f"no default fee for {exchange!r}; give the fee rate, e.g. --fee 0.001 (fee=0.001 in Python)")
    maker, taker, sources = [], [], []
    for spec in specs:
        if spec.taker_fee is None:
            maker.append(0.0)
            taker.append(0.0)
            sources.append(NONE_GIVEN)
        else:
            taker.append(float(spec.taker_fee))
            maker.append(float(spec.taker_fee if spec.maker_fee is None else spec.maker_fee))
            sources.append(spec.fee_source or MARKET)
    return FeeSchedule(symbols, tuple(maker), tuple(taker), tuple(sources))
