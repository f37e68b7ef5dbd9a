"""The catalog a node holds, and its service guide."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from node.identity import NodeIdentity
from node.storage.catalog_store import NodeCatalogStore, NodeRelease
from shared.calendar import china_date
from shared.catalog import Catalog, decode_catalog
from shared.digest import sha256_hex
from shared.errors import ConflictError, NotFoundError
from shared.guide import GuideEntry, GuidePage, guide_entry, guide_for
from sync.releases import ReleaseDocument


@dataclass(frozen=True)
class HeldCatalog:
    """The release in force at this node."""

    version: int
    content_hash: str
    published_at: str
    body: bytes
    catalog: Catalog


class NodeCatalogService:
    """Keeps the node's catalog releases and answers guide questions from the one in force."""

    def __init__(
        self, store: NodeCatalogStore, identity: NodeIdentity, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._identity = identity
        self._clock = clock
        self._cache: HeldCatalog | None = None

    def current(self) -> HeldCatalog | None:
        """The newest release held, decoded once per version."""
        latest = self._store.latest()
        if latest is None:
            return None
        cached = self._cache
        if cached is None or cached.version != latest.version:
            cached = self._cache = _held(latest)
        return cached

    def install(
        self, version: int, body: bytes, *, published_at: datetime, source: str
    ) -> HeldCatalog:
        """Store a release received from the parent or imported from a file.

        The same release again is a no-op; an older one is refused, so a replayed or rolled-back
        release cannot take effect.

        Raises:
            InvalidError: the body is not a catalog.
            ValidationError: the catalog has problems.
            ConflictError: the node already holds a newer release, or another body for this
                version.
        """
        catalog = decode_catalog(body)
        catalog.check()
        content_hash = sha256_hex(body)
        latest = self._store.latest()
        if latest is not None:
            if latest.version == version and latest.content_hash == content_hash:
                return _held(latest)
            if latest.version >= version:
                raise ConflictError(
                    f"本节点已有目录版本 {latest.version}，拒绝安装版本 {version}"
                    "（不允许回退或覆盖）。",
                    code="catalog_rollback",
                )
        release = NodeRelease(
            version=version,
            content_hash=content_hash,
            body=body,
            published_at=published_at.isoformat(),
            received_at=self._clock().isoformat(),
            source=source,
        )
        self._store.append(release)
        return _held(release, catalog)

    def install_document(self, document: ReleaseDocument, *, source: str) -> HeldCatalog:
        """Install a release document received from the parent (hash checked first)."""
        return self.install(
            document.version,
            document.checked_body(),
            published_at=document.published_at,
            source=source,
        )

    def release(self) -> ReleaseDocument:
        """The release in force, exactly as received, for this node's children to fetch.

        Raises:
            NotFoundError: the node holds no release yet.
        """
        held = self.current()
        if held is None:
            raise NotFoundError("本节点尚未收到事项目录。", code="catalog_missing")
        return ReleaseDocument(
            version=held.version,
            content_hash=held.content_hash,
            published_at=datetime.fromisoformat(held.published_at),
            body=held.body.decode("utf-8"),
        )

    def guide(self, query: str = "") -> GuidePage:
        """Items this node may take today, filtered by ``query``."""
        held = self.current()
        if held is None:
            return GuidePage(catalog_version=None, entries=())
        today = china_date(self._clock())
        entries = guide_for(held.catalog, self._identity.tier, self._identity.node_id, today, query)
        return GuidePage(catalog_version=held.version, entries=entries)

    def entry(self, code: str) -> GuideEntry:
        """One item's guide entry as this node offers it.

        Raises:
            NotFoundError: no catalog yet, no such item, or not offered here.
        """
        held = self.current()
        if held is None:
            raise NotFoundError("本节点尚未收到事项目录。", code="catalog_missing")
        today = china_date(self._clock())
        return guide_entry(held.catalog, code, self._identity.tier, self._identity.node_id, today)


def _held(release: NodeRelease, catalog: Catalog | None = None) -> HeldCatalog:
    return HeldCatalog(
        version=release.version,
        content_hash=release.content_hash,
        published_at=release.published_at,
        body=release.body,
        catalog=catalog or decode_catalog(release.body),
    )
