"""Signed releases at the county: what every tier must agree on, published as one snapshot.

A release holds the catalog, the working calendar and the node registry, signed by the county
key. A new release is published whenever any of them changes (a catalog import, an enrollment, a
revocation); publishing identical content again creates nothing. Releases are immutable and all
of them are kept, because each case runs under the catalog version it was accepted under.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import msgspec

from central.db.catalog_store import CatalogStore, StoredRelease
from central.db.registry_store import RegistryStore
from shared.calendar import CalendarYear, WorkingCalendar, calendar_for, official_calendar
from shared.catalog import Catalog
from shared.errors import NotFoundError, ValidationError
from shared.guide import GuideEntry, GuidePage, county_guide
from shared.registry import Registry
from shared.signing import SigningKey
from sync.releases import (
    ReleaseContent,
    SignedRelease,
    decode_release,
    encode_release,
    make_release,
    release_problems,
)


@dataclass(frozen=True)
class CurrentRelease:
    """A published release, decoded."""

    version: int
    content_hash: str
    published_at: datetime
    signed: bytes
    content: ReleaseContent

    @property
    def catalog(self) -> Catalog:
        """The catalog of this release."""
        return self.content.catalog

    @property
    def registry(self) -> Registry:
        """The node registry of this release."""
        return self.content.registry


class ReleaseService:
    """Publishes releases and answers which one is in force.

    Decoded releases are cached by version: projection asks for the catalog of a case's version
    synchronously and often.
    """

    def __init__(
        self,
        store: CatalogStore,
        registry: RegistryStore,
        key: Callable[[], SigningKey],
        clock: Callable[[], datetime],
    ) -> None:
        self._store = store
        self._registry = registry
        self._key = key
        self._clock = clock
        self._by_version: dict[int, CurrentRelease] = {}
        self._latest: CurrentRelease | None = None

    async def load(self) -> None:
        """Read every stored release into the cache (at start-up)."""
        latest = await self._store.latest()
        if latest is None:
            return
        for version in range(1, latest.version + 1):
            stored = await self._store.get(version)
            if stored is not None:
                self._remember(_decoded(stored))

    async def current(self) -> CurrentRelease | None:
        """The newest release (reads the store, so other processes' publications are seen)."""
        latest = await self._store.latest()
        if latest is None:
            return None
        if self._latest is None or self._latest.version != latest.version:
            self._remember(_decoded(latest))
        return self._latest

    def cached(self) -> CurrentRelease | None:
        """The newest release this process knows, without touching the database."""
        return self._latest

    def catalog_for(self, version: int) -> Catalog | None:
        """The catalog of a release version, if published."""
        release = self._by_version.get(version)
        return release.catalog if release else None

    async def release(self, version: int) -> CurrentRelease | None:
        """One published release by version (from the cache, else the store)."""
        cached = self._by_version.get(version)
        if cached is not None:
            return cached
        stored = await self._store.get(version)
        if stored is None:
            return None
        self._remember(_decoded(stored))
        return self._by_version[version]

    def registry_now(self) -> Registry:
        """The registry of the release in force (empty before the first release)."""
        return self._latest.registry if self._latest else Registry(nodes=())

    def departments_now(self) -> dict[str, str]:
        """Department code → name in the catalog in force (empty before the first release)."""
        if self._latest is None:
            return {}
        return {d.code: d.name for d in self._latest.catalog.departments}

    def calendar_now(self) -> WorkingCalendar:
        """The working calendar of the release in force."""
        if self._latest is None:
            return official_calendar()
        return calendar_for(self._latest.content.calendar)

    def newer_than(self, version: int | None) -> bytes | None:
        """The signed release bytes when a child runs an older version (or none)."""
        latest = self._latest
        if latest is None or (version is not None and version >= latest.version):
            return None
        return latest.signed

    async def publish(
        self,
        *,
        by: str,
        catalog: Catalog | None = None,
        calendar: tuple[CalendarYear, ...] | None = None,
    ) -> CurrentRelease:
        """Publish the next release with the given parts and the current ones for the rest.

        Raises:
            NotFoundError: no catalog has ever been given.
            ValidationError: the content has problems; every one is listed.
        """
        latest = await self.current()
        if catalog is None:
            if latest is None:
                raise NotFoundError("尚未导入事项目录，无法发布。", code="catalog_missing")
            catalog = latest.catalog
        if calendar is None:
            calendar = latest.content.calendar if latest else official_calendar().to_years()
        registry = Registry(nodes=tuple(await self._registry.nodes()))
        if latest is not None and _same(latest.content, catalog, calendar, registry):
            return latest
        content = ReleaseContent(
            version=(latest.version if latest else 0) + 1,
            published_at=self._clock(),
            catalog=catalog,
            calendar=calendar,
            registry=registry,
        )
        problems = release_problems(content)
        if problems:
            raise ValidationError(problems)
        signed = make_release(self._key(), content)
        stored = StoredRelease(
            version=content.version,
            content_hash=signed.content_hash,
            body=encode_release(signed),
            published_at=content.published_at,
            published_by=by,
        )
        await self._store.append(stored)
        release = CurrentRelease(
            content.version, signed.content_hash, content.published_at, stored.body, content
        )
        self._remember(release)
        return release

    def _remember(self, release: CurrentRelease) -> None:
        self._by_version[release.version] = release
        if self._latest is None or release.version >= self._latest.version:
            self._latest = release


class GuideService:
    """The county-wide service guide (办事指南) for the portal and the API."""

    def __init__(self, releases: ReleaseService) -> None:
        self._releases = releases

    async def entries(self, query: str = "") -> GuidePage:
        """Every county item matching ``query``."""
        current = await self._releases.current()
        if current is None:
            return GuidePage(catalog_version=None, entries=())
        return GuidePage(
            catalog_version=current.version, entries=county_guide(current.catalog, query)
        )

    async def entry(self, code: str) -> GuideEntry:
        """One item's guide entry.

        Raises:
            NotFoundError: no catalog yet, or no such item.
        """
        current = await self._releases.current()
        if current is None:
            raise NotFoundError("尚未发布事项目录。", code="catalog_missing")
        item = current.catalog.item(code)
        return next(e for e in county_guide(current.catalog) if e.code == item.code)


def _decoded(stored: StoredRelease) -> CurrentRelease:
    signed: SignedRelease = decode_release(stored.body)
    content = msgspec.json.decode(signed.content, type=ReleaseContent)
    return CurrentRelease(
        stored.version, stored.content_hash, stored.published_at, stored.body, content
    )


def _same(
    content: ReleaseContent,
    catalog: Catalog,
    calendar: tuple[CalendarYear, ...],
    registry: Registry,
) -> bool:
    encode = msgspec.json.encode
    return (
        encode(content.catalog) == encode(catalog)
        and encode(content.calendar) == encode(calendar)
        and encode(content.registry) == encode(registry)
    )
