"""The signed releases a node holds (catalog, calendar, registry) and its service guide."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from node.identity import NodeIdentity
from node.storage.catalog_store import NodeCatalogStore, NodeRelease
from shared.calendar import WorkingCalendar, calendar_for, china_date, official_calendar
from shared.catalog import Catalog
from shared.errors import NotFoundError
from shared.guide import GuideEntry, GuidePage, guide_entry, guide_for
from shared.registry import Registry
from shared.signing import VerifyKey
from sync.releases import ReleaseContent, decode_release, open_release


@dataclass(frozen=True)
class HeldRelease:
    """A release this node holds, decoded."""

    version: int
    content_hash: str
    signed: bytes
    content: ReleaseContent

    @property
    def catalog(self) -> Catalog:
        """The catalog of this release."""
        return self.content.catalog


class NodeCatalogService:
    """Installs releases only after checking the county's signature, and serves the guide."""

    def __init__(
        self, store: NodeCatalogStore, identity: NodeIdentity, clock: Callable[[], datetime]
    ) -> None:
        self._store = store
        self._identity = identity
        self._county_key = VerifyKey.from_text(identity.county_key)
        self._clock = clock
        self._by_version: dict[int, HeldRelease] = {}
        self._latest: HeldRelease | None = None
        for stored in store.all():
            self._remember(_held(stored))

    def current(self) -> HeldRelease | None:
        """The release in force."""
        return self._latest

    def version(self) -> int | None:
        """Version of the release in force."""
        return self._latest.version if self._latest else None

    def install(self, signed: bytes, *, source: str) -> int | None:
        """Verify and keep a release; the same release again is a no-op.

        Returns:
            The version installed, or None when it was already held.

        Raises:
            InvalidError / SignatureInvalidError: damaged or not signed by this county.
            ConflictError: older than, or a different body for, a version already held.
            ValidationError: its content fails the county's own checks.
        """
        release = decode_release(signed)
        latest = self._latest
        if (
            latest is not None
            and release.version == latest.version
            and release.content_hash == latest.content_hash
        ):
            return None
        content = open_release(
            release, self._county_key, current_version=latest.version if latest else None
        )
        stored = NodeRelease(
            version=content.version,
            content_hash=release.content_hash,
            body=signed,
            published_at=content.published_at.isoformat(),
            received_at=self._clock().isoformat(),
            source=source,
        )
        self._store.append(stored)
        self._remember(HeldRelease(content.version, release.content_hash, signed, content))
        return content.version

    def catalog_for(self, version: int) -> Catalog | None:
        """The catalog of a release version this node holds."""
        held = self._by_version.get(version)
        return held.catalog if held else None

    def registry_now(self) -> Registry:
        """The registry of the release in force (empty before the first)."""
        return self._latest.content.registry if self._latest else Registry(nodes=())

    def calendar_now(self) -> WorkingCalendar:
        """The working calendar of the release in force."""
        if self._latest is None:
            return official_calendar()
        return calendar_for(self._latest.content.calendar)

    def newer_than(self, version: int | None) -> bytes | None:
        """The signed release for a child that runs an older one."""
        latest = self._latest
        if latest is None or (version is not None and version >= latest.version):
            return None
        return latest.signed

    def guide(self, query: str = "") -> GuidePage:
        """Items this node may take today, filtered by ``query``."""
        held = self._latest
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
        held = self._latest
        if held is None:
            raise NotFoundError("本节点尚未收到事项目录。", code="catalog_missing")
        today = china_date(self._clock())
        return guide_entry(held.catalog, code, self._identity.tier, self._identity.node_id, today)

    def _remember(self, held: HeldRelease) -> None:
        self._by_version[held.version] = held
        if self._latest is None or held.version > self._latest.version:
            self._latest = held


def _held(stored: NodeRelease) -> HeldRelease:
    signed = decode_release(stored.body)
    content = msgspec.json.decode(signed.content, type=ReleaseContent)
    return HeldRelease(stored.version, stored.content_hash, stored.body, content)
