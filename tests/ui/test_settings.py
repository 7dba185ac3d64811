"""``[serve]`` settings: loopback by default, a token required beyond it, the token never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from zvt_crypto.contract.config import load_config
from zvt_crypto.contract.errors import ConfigError
from zvt_crypto.ui.settings import ENV_TOKEN, is_loopback, load_serve_settings

TOKEN = "s3cret-token-0123456789"


@pytest.mark.parametrize(("host", "loopback"), [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True),
                                                ("localhost", True), ("0.0.0.0", False), ("::", False),
                                                ("192.168.1.5", False), ("myhost.example", False)])
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_beyond_loopback_without_a_token_is_refused_with_how_to_set_one() -> None:
    with pytest.raises(ConfigError) as caught:
        load_serve_settings(load_config(env={}), host="0.0.0.0")
    message = str(caught.value)
    assert "refusing to serve on 0.0.0.0 without an access token" in message
    assert ENV_TOKEN in message and "[serve]" in message and "secrets.token_urlsafe" in message


def test_token_from_the_environment_first_then_the_file(tmp_path: Path) -> None:
    config_file = tmp_path / "zvt.toml"
    config_file.write_text(f'[serve]\ntoken = "{TOKEN}-file"\n', encoding="utf-8")
    from_file = load_serve_settings(load_config(config_file, env={}), host="0.0.0.0")
    assert from_file.token == f"{TOKEN}-file"
    from_env = load_serve_settings(load_config(config_file, env={ENV_TOKEN: TOKEN}), host="0.0.0.0")
    assert from_env.token == TOKEN


def test_the_token_never_shows_in_a_repr(tmp_path: Path) -> None:
    settings = load_serve_settings(load_config(env={ENV_TOKEN: TOKEN}), host="0.0.0.0", port=9000)
    assert TOKEN not in repr(settings) and TOKEN not in str(settings) and "token='***'" in repr(settings)


def test_a_short_token_is_refused() -> None:
    with pytest.raises(ConfigError, match="shorter than 16 characters"):
        load_serve_settings(load_config(env={ENV_TOKEN: "short"}))


@pytest.mark.parametrize(("toml", "error"), [("[serve]\ntokn = 'x'\n", "unknown key(s) tokn in [serve]"),
                                             ("[serve]\ntoken = 5\n", "[serve] token must be a string"),
                                             ("serve = 3\n", "[serve] must be a table")])
def test_a_bad_serve_table_names_the_key(tmp_path: Path, toml: str, error: str) -> None:
    config_file = tmp_path / "zvt.toml"
    config_file.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_serve_settings(load_config(config_file, env={}))
    assert error in str(caught.value)
