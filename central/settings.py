"""County service settings, read once from the environment at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.errors import InvalidError

DEFAULT_PORT = 8700


@dataclass(frozen=True, kw_only=True)
class CentralSettings:
    """Configuration of one county centre instance."""

    data_dir: Path
    """Folder holding the SQLite database, the Huey queue and the county signing key (0600)."""
    database_url: str | None = None
    """``postgresql://…`` for production; unset means SQLite in ``data_dir``."""
    redis_url: str | None = None
    """``redis://…`` for the Huey queue in production; unset means SQLite in ``data_dir``."""
    site_name: str = "示范县政务服务中心"
    """Name shown on every page and printed on notices."""
    county_code: str = "XZX"
    """The county centre's short code in the node registry and on its receipt numbers."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    debug: bool = False
    projection_helpers: int | None = None
    """Processes that project replicated cases beside the web process (0: none); unset means
    one per core beyond the first, at most three (:mod:`sync.projection_helpers`)."""

    @property
    def sqlite_path(self) -> Path:
        """Database file used when no database URL is set."""
        return self.data_dir / "central.sqlite"

    @property
    def backend(self) -> str:
        """``postgresql`` or ``sqlite``."""
        return "postgresql" if self.database_url else "sqlite"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> CentralSettings:
        """Build settings from ``CENTRAL_*`` variables; explicit overrides win.

        Raises:
            InvalidError: a variable has a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "data_dir": Path(env.get("CENTRAL_DATA_DIR", "data/central")),
            "database_url": env.get("CENTRAL_DATABASE_URL") or None,
            "redis_url": env.get("CENTRAL_REDIS_URL") or None,
            "site_name": env.get("CENTRAL_SITE_NAME", cls.site_name),
            "county_code": env.get("CENTRAL_COUNTY_CODE", cls.county_code),
            "host": env.get("CENTRAL_HOST", cls.host),
            "port": _port(env.get("CENTRAL_PORT", str(DEFAULT_PORT)), "CENTRAL_PORT"),
            "debug": env.get("CENTRAL_DEBUG", "") in {"1", "true", "yes"},
            "projection_helpers": _helpers(env.get("CENTRAL_PROJECTION_HELPERS", "")),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        if settings.database_url and not settings.database_url.startswith(
            ("postgresql://", "postgres://")
        ):
            raise InvalidError(
                f"CENTRAL_DATABASE_URL 只支持 postgresql:// 地址，收到：{settings.database_url}",
                code="settings_invalid",
            )
        return settings


def _helpers(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) > 64:
        raise InvalidError(
            f"CENTRAL_PROJECTION_HELPERS 必须是 0–64 之间的整数，收到：{text!r}",
            code="settings_invalid",
        )
    return int(text)


def _port(text: str, name: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidError(
            f"{name} 必须是 1–65535 之间的端口号，收到：{text!r}", code="settings_invalid"
        )
    return int(text)
