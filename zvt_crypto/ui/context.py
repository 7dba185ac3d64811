"""What every page, callback and API route of one app reads: the config, the store and the serve settings.

Built once by :func:`zvt_crypto.ui.app.create_app` and handed to the pages (closures) and routes (``app.state``);
there is no module-level store."""

from __future__ import annotations

from dataclasses import dataclass

from zvt_crypto.contract.config import Config
from zvt_crypto.contract.store import Store
from zvt_crypto.ui.settings import ServeSettings


@dataclass(frozen=True)
class UiContext:
    config: Config
    store: Store
    settings: ServeSettings

    def cli_prefix(self) -> str:
        """``zvt-crypto`` plus the options that make a command the user copies write to THIS store."""
        from pathlib import Path

        from zvt_crypto.contract.config import redact_url

        parts = ["zvt-crypto"]
        origin = self.config.db_url_origin
        if self.config.source is not None:
            parts.append(f"--config {self.config.source}")
        if origin in ("--db-url", "ZVT_CRYPTO_DB_URL"):
            parts.append(f"--db-url '{redact_url(self.config.db_url)}'")
        elif origin == "default" and self.config.home != Path("~/.zvt_crypto").expanduser():
            parts.append(f"--home {self.config.home}")
        return " ".join(parts)
