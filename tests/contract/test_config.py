"""Configuration: environment, TOML file, precedence, errors, secrets, and no side effects on disk."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from zvt_crypto.contract.config import deep_merge, load_config, redact, redact_url
from zvt_crypto.contract.errors import ConfigError
from zvt_crypto.contract.store import Store

API_KEY = "AKIA-very-secret-key-123"
API_SECRET = "s3cr3t-value-456"


def write_toml(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    return path


def test_defaults_derive_from_home(tmp_path: Path) -> None:
    config = load_config(env={"ZVT_CRYPTO_HOME": str(tmp_path / "h")})
    assert config.home == tmp_path / "h"
    assert config.db_url == f"sqlite:///{tmp_path / 'h' / 'zvt_crypto.db'}"
    assert config.source is None
    assert dict(config.exchanges) == {}


def test_default_home_is_in_user_home(tmp_path: Path) -> None:
    config = load_config(env={"HOME": str(tmp_path)})
    assert config.home == Path("~/.zvt_crypto").expanduser()


def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ZVT_CRYPTO_HOME", str(tmp_path / "env_home"))
    monkeypatch.setenv("ZVT_CRYPTO_DB_URL", "postgresql+psycopg://quant@db.example/zvt")
    config = load_config()  # reads os.environ
    assert config.home == tmp_path / "env_home"
    assert config.db_url == "postgresql+psycopg://quant@db.example/zvt"


def test_toml_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "zvt.toml",
        f"""
        home = "{tmp_path / 'file_home'}"

        [store]
        url = "sqlite:///{tmp_path / 'file.db'}"

        [exchanges.binance.ccxt]
        timeout = 10000
        options = {{ fetchMarkets = {{ types = ["spot"] }} }}
        """,
    )
    config = load_config(path, env={})
    assert config.source == path
    assert config.home == tmp_path / "file_home"
    assert config.db_url == f"sqlite:///{tmp_path / 'file.db'}"
    assert config.ccxt_options("binance") == {"timeout": 10000, "options": {"fetchMarkets": {"types": ["spot"]}}}
    assert config.ccxt_options("okx") == {}


def test_precedence_arguments_over_env_over_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "zvt.toml",
        """
        home = "/from/file"
        [store]
        url = "sqlite:////from/file.db"
        """,
    )
    env = {"ZVT_CRYPTO_CONFIG": str(path)}
    from_file = load_config(env=env)
    assert (str(from_file.home), from_file.db_url) == ("/from/file", "sqlite:////from/file.db")

    env |= {"ZVT_CRYPTO_HOME": "/from/env", "ZVT_CRYPTO_DB_URL": "sqlite:////from/env.db"}
    from_env = load_config(env=env)
    assert (str(from_env.home), from_env.db_url) == ("/from/env", "sqlite:////from/env.db")

    from_args = load_config(env=env, home="/from/args", db_url="sqlite:////from/args.db")
    assert (str(from_args.home), from_args.db_url) == ("/from/args", "sqlite:////from/args.db")


def test_config_argument_beats_config_env(tmp_path: Path) -> None:
    """``--config FILE`` (the ``config_file`` argument) wins over ``ZVT_CRYPTO_CONFIG``."""
    env_file = write_toml(tmp_path / "env.toml", 'home = "/env-file"\n')
    cli_file = write_toml(tmp_path / "cli.toml", 'home = "/cli-file"\n')
    config = load_config(cli_file, env={"ZVT_CRYPTO_CONFIG": str(env_file)})
    assert config.source == cli_file
    assert str(config.home) == "/cli-file"


def test_home_from_file_sets_default_db(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "zvt.toml", f'home = "{tmp_path / "fh"}"\n')
    assert load_config(path, env={}).db_url == f"sqlite:///{tmp_path / 'fh' / 'zvt_crypto.db'}"


def test_malformed_toml_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "broken.toml", "[store\nurl = 1\n")
    with pytest.raises(ConfigError, match=r"broken\.toml") as info:
        load_config(path, env={})
    assert "not valid TOML" in str(info.value)


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nowhere\.toml"):
        load_config(env={"ZVT_CRYPTO_CONFIG": str(tmp_path / "nowhere.toml")})


@pytest.mark.parametrize(
    ("body", "word"),
    [
        ('colour = "blue"\n', "colour"),
        ('[store]\npath = "x"\n', "path"),
        ("[exchanges.binance]\ntimeout = 3\n", "timeout"),
    ],
)
def test_unknown_keys_rejected(tmp_path: Path, body: str, word: str) -> None:
    path = write_toml(tmp_path / "unknown.toml", body)
    with pytest.raises(ConfigError, match=r"unknown\.toml") as info:
        load_config(path, env={})
    assert word in str(info.value)
    assert "unknown key" in str(info.value)


@pytest.mark.parametrize(
    "body",
    ["store = 3\n", "[store]\nurl = 5\n", "exchanges = 1\n", "[exchanges]\nbinance = 2\n",
     "[exchanges.binance]\nccxt = 2\n", "home = 7\n"],
)
def test_wrong_types_rejected(tmp_path: Path, body: str) -> None:
    path = write_toml(tmp_path / "types.toml", body)
    with pytest.raises(ConfigError, match=r"types\.toml"):
        load_config(path, env={})


def test_secrets_from_env_are_usable_but_never_printed(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "zvt.toml",
        """
        [exchanges.binance.ccxt]
        timeout = 5000
        """,
    )
    env = {
        "ZVT_CRYPTO_BINANCE_API_KEY": API_KEY,
        "ZVT_CRYPTO_BINANCE_SECRET": API_SECRET,
        "ZVT_CRYPTO_OKX_PASSWORD": "okx-pass-789",
        "UNRELATED": "x",
    }
    config = load_config(path, env=env)
    options = config.ccxt_options("binance")
    assert options == {"timeout": 5000, "apiKey": API_KEY, "secret": API_SECRET}
    assert config.ccxt_options("okx") == {"password": "okx-pass-789"}
    assert "UNRELATED" not in config.env

    for text in (repr(config), str(config), str(config.describe())):
        assert API_KEY not in text
        assert API_SECRET not in text
        assert "okx-pass-789" not in text
    described = config.describe()
    assert described["exchanges"]["binance"] == {"timeout": 5000, "apiKey": "***", "secret": "***"}
    assert described["config_file"] == str(path)


def test_secrets_in_file_are_redacted(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "zvt.toml",
        f"""
        [store]
        url = "postgresql+psycopg://quant:db-password-1@localhost/zvt"
        [exchanges.kraken.ccxt]
        apiKey = "{API_KEY}"
        options = {{ nested = {{ secret = "{API_SECRET}" }} }}
        """,
    )
    config = load_config(path, env={})
    assert config.ccxt_options("kraken")["apiKey"] == API_KEY
    for text in (repr(config), str(config.describe())):
        assert API_KEY not in text
        assert API_SECRET not in text
        assert "db-password-1" not in text
        assert "***" in text


def test_redact_url() -> None:
    hidden = redact_url("postgresql+psycopg://quant:hunter2@db.example:5432/zvt")
    assert "hunter2" not in hidden
    assert hidden == "postgresql+psycopg://quant:***@db.example:5432/zvt"
    assert redact_url("sqlite:////data/zvt.db") == "sqlite:////data/zvt.db"
    assert redact_url("not a url :: at all") == "<unparsable database URL>"


def test_redact_and_deep_merge_helpers() -> None:
    assert redact({"apiKey": "k", "secret": "", "timeout": 3, "sub": {"password": "p"}}) == {
        "apiKey": "***", "secret": "", "timeout": 3, "sub": {"password": "***"},
    }
    base = {"urls": {"api": {"public": "a", "private": "b"}}, "timeout": 1}
    merged = deep_merge(base, {"urls": {"api": {"public": "x"}}, "timeout": 2})
    assert merged == {"urls": {"api": {"public": "x", "private": "b"}}, "timeout": 2}
    assert base["urls"]["api"]["public"] == "a"  # the base is not modified


def test_nothing_created_until_first_use(tmp_path: Path) -> None:
    home = tmp_path / "lazy_home"
    config = load_config(env={"ZVT_CRYPTO_HOME": str(home)})
    store = Store(config)
    assert not home.exists()
    assert repr(store)  # describing it does not open it either
    assert not home.exists()
    store.engine  # noqa: B018 - first use opens (creates) the store
    try:
        assert (home / "zvt_crypto.db").is_file()
    finally:
        store.dispose()


def test_store_default_uses_environment(zvt_home: Path) -> None:
    store = Store()
    assert store.sqlite_path == (zvt_home / "zvt_crypto.db").resolve()
    assert not zvt_home.exists()


def test_import_creates_no_files(tmp_path: Path) -> None:
    home = tmp_path / "empty_home"
    home.mkdir()
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZVT_CRYPTO_")}
    env |= {"HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    code = (
        "import zvt_crypto, zvt_crypto.domain, zvt_crypto.contract.config as c\n"
        "from zvt_crypto.domain import Bar\n"
        "from zvt_crypto.contract.store import Store\n"
        "cfg = c.load_config(); Store(cfg)\n"
        "assert str(cfg.home).startswith(" + repr(str(home)) + "), cfg.home\n"
    )
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    assert list(home.iterdir()) == []


def test_ccxt_deep_merges_constructor_options(tmp_path: Path) -> None:
    ccxt = pytest.importorskip("ccxt")
    path = write_toml(
        tmp_path / "zvt.toml",
        """
        [exchanges.binance.ccxt]
        timeout = 4321
        urls = { api = { public = "http://127.0.0.1:8765/api/v3" } }
        """,
    )
    config = load_config(path, env={"ZVT_CRYPTO_BINANCE_API_KEY": API_KEY})
    default = ccxt.binance()
    exchange = ccxt.binance(config.ccxt_options("binance"))
    assert exchange.urls["api"]["public"] == "http://127.0.0.1:8765/api/v3"
    assert default.urls["api"]["public"] != exchange.urls["api"]["public"]
    others = {key: value for key, value in default.urls["api"].items() if key != "public"}
    assert others  # binance has many API groups besides "public"
    for key, value in others.items():
        assert exchange.urls["api"][key] == value
    assert exchange.timeout == 4321
    assert exchange.apiKey == API_KEY


def test_ccxt_options_are_copies(tmp_path: Path) -> None:
    """ccxt changes the nested dicts it is given; that must not change the config or the next exchange."""
    path = write_toml(
        tmp_path / "zvt.toml",
        """
        [exchanges.binance.ccxt]
        options = { fetchMarkets = { types = ["spot"] } }
        """,
    )
    config = load_config(path, env={})
    first = config.ccxt_options("binance")
    first["options"]["fetchMarkets"]["types"].append("linear")
    first["timeout"] = 1
    assert config.ccxt_options("binance") == {"options": {"fetchMarkets": {"types": ["spot"]}}}
    ccxt = pytest.importorskip("ccxt")
    exchange = ccxt.binance(config.ccxt_options("binance"))
    exchange.options["fetchMarkets"]["types"].append("inverse")
    assert config.ccxt_options("binance")["options"]["fetchMarkets"]["types"] == ["spot"]


# -- [exchanges.<id>] request budget and retry policy ------------------------------------------------------------
def test_client_settings_from_the_file(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path / "zvt.toml",
        """
        [exchanges.binance]
        requests_per_minute = 1200
        request_burst = 10
        max_retries = 6
        retry_initial_seconds = 0.5
        retry_max_seconds = 30
        breaker_threshold = 5
        breaker_cooldown_seconds = 60.5
        [exchanges.binance.ccxt]
        timeout = 10000
        [exchanges.kraken]
        requests_per_minute = 0
        """,
    )
    config = load_config(path, env={})
    assert config.client_settings("binance") == {
        "requests_per_minute": 1200, "request_burst": 10, "max_retries": 6, "retry_initial_seconds": 0.5,
        "retry_max_seconds": 30, "breaker_threshold": 5, "breaker_cooldown_seconds": 60.5,
    }
    assert config.ccxt_options("binance") == {"timeout": 10000}  # the ccxt table is unaffected
    assert config.client_settings("kraken") == {"requests_per_minute": 0}
    assert config.client_settings("okx") == {}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('requests_per_minute = "1200"', "requests_per_minute must be an integer from 0 to 1000000, not '1200'"),
        ("requests_per_minute = 12.5", "requests_per_minute must be an integer"),
        ("requests_per_minute = -1", "requests_per_minute must be an integer from 0"),
        ("requests_per_minute = true", "requests_per_minute must be an integer"),
        ("request_burst = 0", "request_burst must be an integer from 1"),
        ("max_retries = 1000", "max_retries must be an integer from 0 to 100, not 1000"),
        ('retry_initial_seconds = "fast"', "retry_initial_seconds must be a number from 0 to 3600"),
        ("retry_max_seconds = nan", "retry_max_seconds must be a number"),
        ("retry_max_seconds = inf", "retry_max_seconds must be a number"),
        ("breaker_threshold = 0", "breaker_threshold must be an integer from 1"),
        ("breaker_cooldown_seconds = -5", "breaker_cooldown_seconds must be a number from 0"),
        ("retry_initial_seconds = 10\nretry_max_seconds = 5",
         r"retry_max_seconds \(5\) is below retry_initial_seconds \(10\)"),
        ("requests_per_minute = 60\nrequest_burst = 61", r"request_burst \(61\) exceeds requests_per_minute \(60\)"),
    ],
)
def test_client_settings_rejected_with_file_table_and_key(tmp_path: Path, line: str, message: str) -> None:
    path = write_toml(tmp_path / "limits.toml", f"[exchanges.binance]\n{line}\n")
    with pytest.raises(ConfigError, match=r"limits\.toml: \[exchanges\.binance\]: ") as info:
        load_config(path, env={})
    assert info.match(message)


def test_misspelt_client_key_is_unknown(tmp_path: Path) -> None:
    path = write_toml(tmp_path / "typo.toml", "[exchanges.binance]\nrequest_per_minute = 600\n")
    with pytest.raises(ConfigError, match=r"typo\.toml: unknown key\(s\) request_per_minute in \[exchanges\.binance\]"):
        load_config(path, env={})
