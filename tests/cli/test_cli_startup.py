"""A store command's fixed cost: run as a fresh process on a current store it imports neither Alembic nor the
frame and venue libraries (imports are most of the ≈ 1 s a small command took); an old store still upgrades."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from zvt_crypto.contract.migrate import current_revision, head_revision, upgrade
from zvt_crypto.contract.store import Store

HEAVY = ("alembic", "pandas", "numpy", "pyarrow", "ccxt", "plotly")

# runs the CLI as the console script does, then prints which heavy packages it imported
_WRAPPER = f"""
import sys
from zvt_crypto.cli import main
try:
    main()
except SystemExit as exc:
    code = exc.code
else:
    code = 0
heavy = sorted(name for name in {HEAVY!r} if name in sys.modules)
print("IMPORTED=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
"""


def _run(db: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    done = subprocess.run([sys.executable, "-c", _WRAPPER, "--db-url", f"sqlite:///{db}", *args],
                          capture_output=True, text=True, timeout=120)
    imported = [line.removeprefix("IMPORTED=") for line in done.stderr.splitlines() if line.startswith("IMPORTED=")]
    assert imported, done.stderr
    return done, [name for name in imported[0].split(",") if name]


@pytest.fixture
def current_store(tmp_path: Path) -> Path:
    db = tmp_path / "zvt.db"
    store = Store(f"sqlite:///{db}")
    store.engine  # noqa: B018 - creates the file at the newest revision
    store.dispose()
    return db


@pytest.mark.parametrize("command", [("info",), ("coverage",)])
def test_store_command_on_a_current_store_imports_nothing_heavy(current_store: Path, command: tuple[str, ...]) -> None:
    done, imported = _run(current_store, *command)
    assert done.returncode == 0, done.stderr
    assert imported == []


def test_info_on_an_old_store_upgrades_it(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{db}", poolclass=NullPool)
    upgrade(engine, "0001")
    assert current_revision(engine) == "0001"
    done, imported = _run(db, "info")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["schema_revision"] == head_revision()
    assert current_revision(engine) == head_revision()
    assert "alembic" in imported  # the upgrade itself is Alembic's
    engine.dispose()


def test_scanned_head_agrees_with_alembic() -> None:
    from alembic.script import ScriptDirectory

    from zvt_crypto.contract.migrate import _scanned_head, alembic_config, script_location

    assert _scanned_head(script_location()) == ScriptDirectory.from_config(alembic_config()).get_current_head()
