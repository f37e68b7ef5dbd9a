"""Node settings: where the data folder is and where to listen.

What the node *is* (its id, tier, name and parent) is written once by ``tongban node init`` into
``node.json`` in the data folder, so the same folder always comes back as the same node.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.errors import InvalidError

DEFAULT_PORT = 8710


@dataclass(frozen=True, kw_only=True)
class NodeSettings:
    """Configuration of one node process."""

    data_dir: Path
    """Folder holding node.json, the SQLite database, the Huey queue and the node key (0600)."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    sync_interval: float = 60.0
    """Seconds between syncs with the parent; 0 turns the background sync off."""
    debug: bool = False
    public_url: str = ""
    """Address printed in the QR of signed documents, to which ``/verify?d=…`` is appended: the
    county portal's public address where residents' phones can reach it (any tier verifies any
    document). Empty prints a relative link, which only a scanner in the hall can follow."""

    @property
    def config_path(self) -> Path:
        """The node's identity file written by ``tongban node init``."""
        return self.data_dir / "node.json"

    @property
    def database_path(self) -> Path:
        """The node's SQLite database."""
        return self.data_dir / "node.sqlite"

    @property
    def key_path(self) -> Path:
        """The node's Ed25519 private key (0600)."""
        return self.data_dir / "keys" / "node.key"

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, **overrides: object
    ) -> NodeSettings:
        """Build settings from ``NODE_*`` variables; explicit overrides win.

        Raises:
            InvalidError: a variable has a value that cannot be used.
        """
        env = os.environ if environ is None else environ
        port_text = env.get("NODE_PORT", str(DEFAULT_PORT))
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidError(f"NODE_PORT 必须是 1–65535 之间的端口号，收到：{port_text!r}")
        values: dict[str, object] = {
            "data_dir": Path(env.get("NODE_DATA_DIR", "data/node")),
            "host": env.get("NODE_HOST", cls.host),
            "port": int(port_text),
            "sync_interval": float(env.get("NODE_SYNC_INTERVAL", "60")),
            "debug": env.get("NODE_DEBUG", "") in {"1", "true", "yes"},
            "public_url": env.get("NODE_PUBLIC_URL", "").strip().rstrip("/"),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]
