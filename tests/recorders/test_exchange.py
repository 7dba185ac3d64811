"""The two exchange checks answer different questions: is the id written as a ccxt id (no ccxt needed), and does
the installed ccxt have a client for it."""

from __future__ import annotations

import pytest

from zvt_crypto.contract.errors import InvalidInputError
from zvt_crypto.contract.ids import check_exchange_id
from zvt_crypto.recorders.exchange import check_ccxt_exchange


def test_check_exchange_id_checks_the_form_only() -> None:
    assert check_exchange_id("binanceusdm") == "binanceusdm"
    assert check_exchange_id("myvenue2") == "myvenue2"  # no ccxt client, but a well-formed id (stored data may use it)
    with pytest.raises(InvalidInputError, match="invalid exchange id 'Binance': use the lower-case ccxt id"):
        check_exchange_id("Binance")


def test_check_ccxt_exchange_wants_a_client_and_suggests_close_ids() -> None:
    assert check_ccxt_exchange("binanceusdm") == "binanceusdm"
    with pytest.raises(InvalidInputError, match=r"unknown exchange 'binanse': not a ccxt exchange id; did you mean "
                                                r"binance\b"):
        check_ccxt_exchange("binanse")
    with pytest.raises(InvalidInputError, match=r"not a ccxt exchange id; see ccxt\.exchanges for the list"):
        check_ccxt_exchange("myvenue2")
