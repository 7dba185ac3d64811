"""Trading signals from outside (the API's ``POST /api/v1/signals/{account}``): parse, check, and audit.

A signal is TradingView-style JSON::

    {"client_id": "tv-42", "symbol": "GOOG/USD", "side": "buy", "size": 2, "price": 301.5}

with ``side`` ``buy``/``sell`` and ``size`` (base units), or ``side`` ``flat`` (close the position), or a target
instead of a side: ``weight`` (signed fraction of equity) or ``target`` (signed position in base units). ``price``
is optional (a limit price; it also values the intent for the risk checks, else the newest stored close does).

Every signal becomes exactly one row of the append-only ``signal_audit`` table: accepted (the order intent on
the paper account) or rejected with the reason. Checks, in order: the caller's signature (done by the API, whose
verdict is passed in), the body, the client id (once accepted, never again: a replay or a retry of a delivered
signal is refused), the account and its symbols, then the account's risk limits
(:func:`zvt_crypto.trader.risk.intent_problem`) against its state after its newest processed bar.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import desc, insert, select
from sqlalchemy.exc import IntegrityError

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import entity_id, entity_type_of_symbol
from zvt_crypto.contract.store import Store
from zvt_crypto.contract.timeutil import now_ms
from zvt_crypto.domain.signals import ACCEPTED, REJECTED, SignalAudit
from zvt_crypto.trader import paper_store as db
from zvt_crypto.trader.risk import intent_problem
from zvt_crypto.trader.settings import BacktestSettings

__all__ = ["Signal", "SignalOutcome", "parse_signal", "receive_signal", "signal_rows"]

SIDES = ("buy", "sell", "flat")
_FIELDS = {"client_id", "symbol", "side", "size", "weight", "target", "price"}
AUDIT = SignalAudit.__table__


@dataclass(frozen=True)
class Signal:
    client_id: str
    symbol: str
    side: str | None = None
    size: float | None = None
    weight: float | None = None
    target: float | None = None
    price: float | None = None


@dataclass(frozen=True)
class SignalOutcome:
    """The audit row's id and verdict; ``kind`` says which check refused it (``auth``, ``invalid``, ``duplicate``,
    ``account``, ``risk``), None when accepted."""

    id: int
    status: str
    reason: str | None = None
    kind: str | None = None


def _number(data: Mapping[str, Any], name: str, *, positive: bool) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(f"{name} must be a finite number, not {value!r}")
    if positive and value <= 0:
        raise InvalidInputError(f"{name} must be positive, not {value!r}")
    return float(value)


def parse_signal(body: bytes) -> Signal:
    """The signal in ``body``, or :class:`InvalidInputError` saying what to send."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputError("the body is not JSON: send an object such as {\"client_id\": \"tv-1\", "
                                "\"symbol\": \"BTC/USDT\", \"side\": \"buy\", \"size\": 0.1}") from None
    if not isinstance(data, dict):
        raise InvalidInputError("the body must be a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise InvalidInputError(f"unknown field(s) {', '.join(unknown)}; a signal has {', '.join(sorted(_FIELDS))}")
    client_id, symbol, side = data.get("client_id"), data.get("symbol"), data.get("side")
    if not isinstance(client_id, str) or not 0 < len(client_id) <= 128:
        raise InvalidInputError("client_id (1-128 characters, unique per signal) is missing")
    if not isinstance(symbol, str) or not symbol:
        raise InvalidInputError("symbol (e.g. \"BTC/USDT\") is missing")
    if side is not None and side not in SIDES:
        raise InvalidInputError(f"side must be one of {', '.join(SIDES)}, not {side!r}")
    signal = Signal(client_id, symbol, side, _number(data, "size", positive=True),
                    _number(data, "weight", positive=False), _number(data, "target", positive=False),
                    _number(data, "price", positive=True))
    given = [name for name in ("size", "weight", "target") if getattr(signal, name) is not None]
    if side in ("buy", "sell") and given != ["size"]:
        raise InvalidInputError(f"side {side!r} takes a size (and no weight or target)")
    if side == "flat" and given:
        raise InvalidInputError("side 'flat' closes the position: send no size, weight or target")
    if side is None and (len(given) != 1 or given == ["size"]):
        raise InvalidInputError("send side (buy or sell) with size, side 'flat', or one target: weight or target")
    return signal


def receive_signal(store: Store, account: str, body: bytes, *, token: str | None = None,
                   refused: str | None = None) -> SignalOutcome:
    """Check a signal for ``account`` and audit it (one row, whatever the verdict). ``refused``: the API's reason
    to refuse it before reading it (a bad signature, a stale timestamp); the body is then audited as far as it
    parses, so the audit shows what a forged or replayed request asked for."""
    row: dict[str, Any] = {"account": account[:64], "token": token, "received_timestamp": now_ms(),
                           "body_sha256": hashlib.sha256(body).hexdigest()}
    signal: Signal | None = None
    problem: str | None = None
    try:
        signal = parse_signal(body)
    except InvalidInputError as exc:
        problem = str(exc)
    if signal is not None:
        row.update({key: value for key, value in asdict(signal).items()})
        row["client_id"] = signal.client_id
    if refused is not None:
        return _write(store, row, REJECTED, refused, "auth")
    if signal is None:
        return _write(store, row, REJECTED, problem, "invalid")
    if _accepted_before(store, account, signal.client_id):
        return _write(store, row, REJECTED, f"client_id {signal.client_id!r} was accepted before (a replay or "
                                            "a retry): send each signal with a new client_id", "duplicate")
    account_row = db.account_row(store, account)
    if account_row is None:
        return _write(store, row, REJECTED, f"no paper account {account!r}", "account")
    if signal.symbol not in account_row["symbols"]:
        return _write(store, row, REJECTED, f"paper account {account!r} trades {', '.join(account_row['symbols'])}, "
                                            f"not {signal.symbol}", "account")
    problem = _risk_problem(store, account_row, signal)
    if problem is not None:
        return _write(store, row, REJECTED, problem, "risk")
    try:
        return _write(store, row, ACCEPTED, None, None)
    except IntegrityError:  # the same client id accepted meanwhile by a concurrent request: the index decides
        return _write(store, row, REJECTED, f"client_id {signal.client_id!r} was accepted before (a replay or a "
                                            "retry): send each signal with a new client_id", "duplicate")


def _write(store: Store, row: dict[str, Any], status: str, reason: str | None, kind: str | None) -> SignalOutcome:
    values = {**row, "status": status, "reason": None if reason is None else reason[:512]}
    with store.begin() as connection:
        new_id = connection.execute(insert(AUDIT).values(values).returning(AUDIT.c.id)).scalar_one()
    return SignalOutcome(int(new_id), status, reason, kind)


def _accepted_before(store: Store, account: str, client_id: str) -> bool:
    query = select(AUDIT.c.id).where(AUDIT.c.account == account, AUDIT.c.client_id == client_id,
                                     AUDIT.c.status == ACCEPTED).limit(1)
    with store.engine.connect() as connection:
        return connection.execute(query).first() is not None


def _risk_problem(store: Store, account: Mapping[str, Any], signal: Signal) -> str | None:
    """The account's risk limits applied to the position the signal asks for (see the module docstring)."""
    settings = BacktestSettings.from_dict(account["settings"])
    state = account["state"] or {}
    signed = {p["symbol"]: float(p["size"]) * (1 if p["side"] == "long" else -1) for p in state.get("positions", [])}
    marks = {p["symbol"]: float(p["mark"]) for p in state.get("positions", [])}
    price = signal.price or marks.get(signal.symbol) or _last_close(store, account, signal.symbol)
    if price is None:
        return f"no price to value the signal: no {account['level']} bar of {signal.symbol} stored; send price"
    equity = float(account["equity"])
    size_now = signed.get(signal.symbol, 0.0)
    if signal.side == "flat":
        size_after = 0.0
    elif signal.side in ("buy", "sell"):
        assert signal.size is not None  # parse_signal: a side comes with a size
        size_after = size_now + (signal.size if signal.side == "buy" else -signal.size)
    elif signal.weight is not None:
        size_after = signal.weight * equity / price
    else:
        size_after = float(signal.target or 0.0)
    others = sum(abs(size) * marks.get(symbol, 0.0) for symbol, size in signed.items() if symbol != signal.symbol)
    symbols = list(account["symbols"])
    leverages = settings.leverages(symbols, [entity_type_of_symbol(symbol) == "perp" for symbol in symbols])
    return intent_problem(settings.risk, equity=equity, before=size_now * price, after=size_after * price,
                          others_gross=others, leverage=float(leverages[symbols.index(signal.symbol)]),
                          halted=(state.get("risk") or {}).get("halted"))


def _last_close(store: Store, account: Mapping[str, Any], symbol: str) -> float | None:
    from zvt_crypto.domain import Bar

    table = Bar.__table__
    query = (select(table.c.close).where(table.c.entity_id == entity_id(account["exchange"], symbol),
                                         table.c.level == account["level"])
             .order_by(desc(table.c.timestamp)).limit(1))
    with store.engine.connect() as connection:
        close = connection.execute(query).scalar()
    return None if close is None else float(close)


def signal_rows(store: Store, *, account: str | None = None, status: str | None = None,
                limit: int = 1000) -> list[dict[str, Any]]:
    """The audit rows, newest first (optionally of one account, of one status)."""
    query = select(AUDIT).order_by(desc(AUDIT.c.id)).limit(limit)
    if account is not None:
        query = query.where(AUDIT.c.account == account)
    if status is not None:
        query = query.where(AUDIT.c.status == status)
    with store.engine.connect() as connection:
        return [dict(row) for row in connection.execute(query).mappings()]
