"""Two processes of one node writing its chain (the county's web process and its worker).

Each has its own :class:`Replica` over the same store. Whatever order they write in, the chain
stays one chain: sequence numbers follow each other, stamps never go backwards, and a receiver
accepts every record.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import timedelta
from typing import Any

import pytest

from sync.memory_store import MemoryStore
from sync.reasons import Outcome
from sync.replica import Replica
from sync.store import Head
from tests.sync.test_verify import NOW, TOWN, make_net
from tests.sync.tree import accepted, new_case_id, received

pytestmark = pytest.mark.anyio


class StaleHeads:
    """The shared store, except that the first ``heads`` read is the one taken before another
    writer committed: the race of two processes reading the head at the same moment."""

    def __init__(self, store: MemoryStore, stale: dict[str, Head]) -> None:
        self._store = store
        self._stale: dict[str, Head] | None = stale

    async def heads(self, origins: Collection[str] | None = None) -> dict[str, Head]:
        if self._stale is not None:
            stale, self._stale = self._stale, None
            return stale
        return await self._store.heads(origins)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def test_a_second_writer_never_stamps_behind_the_first() -> None:
    net = make_net()
    web = net.replica(TOWN)
    store = web.store
    assert isinstance(store, MemoryStore)
    behind = [NOW - timedelta(seconds=5)]  # the worker's clock, a little behind
    worker = Replica(
        store,
        node_id=TOWN,
        key=net.keys[TOWN],
        registry=lambda: net.registry,
        catalog_for=web._catalog_for,
        calendar=web._calendar,
        clock=lambda: behind[0],
    )
    first, second = new_case_id(), new_case_id()
    await worker.record(first, lambda tick: [received(first, TOWN)(tick())])
    await web.record(second, lambda tick: [received(second, TOWN)(tick())])
    await worker.record(second, lambda tick: [accepted(second, TOWN, "SFZ-1")(tick())])
    await web.record(first, lambda tick: [accepted(first, TOWN, "SFZ-2")(tick())])

    log = await store.log_after(0, 100)
    assert [e.seq for e in log] == [1, 2, 3, 4]
    stamps = [e.hlc for e in log]
    assert stamps == sorted(stamps) and len(set(stamps)) == 4

    county = net.replica("county")
    results = await county.receive([e.envelope for e in log])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 4


async def test_a_write_that_lost_the_race_is_rebuilt_on_the_winner() -> None:
    net = make_net()
    web = net.replica(TOWN)
    store = web.store
    assert isinstance(store, MemoryStore)
    first = new_case_id()
    await web.record(first, lambda tick: [received(first, TOWN)(tick())])
    before = await store.heads([TOWN])
    second = new_case_id()
    await web.record(second, lambda tick: [received(second, TOWN)(tick())])

    racing = Replica(
        StaleHeads(store, before),  # type: ignore[arg-type]
        node_id=TOWN,
        key=net.keys[TOWN],
        registry=lambda: net.registry,
        catalog_for=web._catalog_for,
        calendar=web._calendar,
        clock=lambda: NOW,
    )
    built: list[int] = []

    def build(tick: Any) -> list[Any]:
        built.append(1)
        return [accepted(first, TOWN, "SFZ-3")(tick())]

    await racing.record(first, build)
    assert len(built) == 2  # refused once at seq 2, then written as seq 3
    log = await store.log_after(0, 100)
    assert [e.seq for e in log] == [1, 2, 3]
    county = net.replica("county")
    results = await county.receive([e.envelope for e in log])
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 3
