"""Per-case CRDT documents: one pycrdt Doc per case, holding the case's events.

The document's only root is the Array ``"events"``; each element is one case event as JSON text
(:func:`shared.events.encode_event`), so pycrdt never turns an int into a float. Writers only
append. A local transaction loads a fresh :class:`CaseDoc` (fresh random client id) from the
stored state, appends its events in one pycrdt transaction and ships the incremental update in
one envelope. A receiver applies each envelope's update with :meth:`CaseDoc.apply_checked`,
which enforces the structural rules and leaves the document untouched when one fails.

pycrdt 0.14.13 facts this module relies on (each pinned by a test in
``tests/sync/test_casedoc.py``):

* An update whose dependencies are missing is held *pending* inside the Doc; nothing appears and
  the state vector does not move. ``Doc.get_update()`` does **not** include pending structs, so a
  state saved then silently drops them.
* A pending update integrates as soon as its dependency is applied to the *same* Doc instance.
  The dependency's apply then also brings in the pending update's items, so they would be
  attributed to the wrong envelope. :meth:`CaseDoc.apply_checked` therefore never leaves anything
  pending: it restores the document and reports ``pending=True``; the caller keeps the envelope
  and applies it again once more envelopes have arrived.
* A delete set naming items the Doc does not have yet is held too, and deletes them when they
  arrive. Writers never delete, so any non-empty delete set is rejected as ``deletes_history``.
* ``pycrdt.get_update(update, state_vector)`` gives what of ``update`` the state vector has not
  seen, followed by the update's whole delete set. After a clean apply of an honest update it is
  exactly ``b"\\x00\\x00"`` (no structs, no deletes); that is the cheap pending and delete probe.

How the check stays cheap (no full render, no ``get_update()`` on the happy path): the state
vectors before and after show which clients gained clock and how much; each element costs one
clock, so the added elements are found by asking pycrdt for the item id (client, clock) of the
last positions (a sticky index encodes it) until the gained clock is accounted for. Clock that no
added element accounts for was written somewhere else. A failed check rebuilds the Doc from the
loaded state plus the updates accepted since.

pycrdt Docs are not thread-safe: confine each CaseDoc to the thread that made it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
import pycrdt

from shared.errors import InvalidError
from shared.events import CaseEvent, decode_event, encode_event
from sync.reasons import Reason

EVENTS_ROOT = "events"

_NOTHING = b"\x00\x00"
"""A v1 update with no structs and an empty delete set."""
_COMPACT_AFTER = 64
"""Updates kept for restoring before they are folded into one base state."""

_VARINT = re.compile(rb"[\x80-\xff]*[\x00-\x7f]")
"""One lib0 unsigned varint: continuation bytes, then a final byte."""
_LIST_DECODER: msgspec.json.Decoder[list[Any]] = msgspec.json.Decoder(list[Any])
_ENCODER = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Check:
    """What :meth:`CaseDoc.apply_checked` found.

    Attributes:
        ok: every structural rule holds; the update is now part of the document (unless pending).
        reason: the first rule broken, when not ok.
        detail: Chinese explanation for supervisors; empty when ok.
        added: the events this update added, in document order; empty when nothing new
            integrated (a duplicate, an empty update, or a pending one).
        pending: the update's dependencies are missing. The document was left as it was; apply
            the same update again after more envelopes of this case have been applied.
    """

    ok: bool
    reason: Reason | None = None
    detail: str = ""
    added: tuple[CaseEvent, ...] = ()
    pending: bool = False


class CaseDoc:
    """One case's pycrdt document, confined to the caller's thread."""

    def __init__(self, doc: pycrdt.Doc[Any], base: bytes | None) -> None:
        """Wrap a Doc already holding ``base``; use :meth:`load` instead."""
        self._doc = doc
        self._array: pycrdt.Array[Any] = doc.get(EVENTS_ROOT, type=pycrdt.Array)
        # What the document was built from, so a failed check can rebuild it exactly without
        # paying doc.get_update() before every apply.
        self._base = base
        self._log: list[bytes] = []

    @classmethod
    def load(cls, state: bytes | None) -> CaseDoc:
        """Build a document with a fresh random client id from a stored state.

        Args:
            state: bytes from :meth:`state`, or None for a new case.

        Raises:
            InvalidError: the stored state is not a pycrdt update.
        """
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        loaded = cls(doc, state)
        if state is not None:
            try:
                doc.apply_update(state)
            except ValueError as exc:
                raise InvalidError(
                    f"办件文档数据已损坏，无法载入：{exc}", code="case_doc_corrupt"
                ) from exc
        return loaded

    @property
    def client_id(self) -> int:
        """The id pycrdt stamps on everything this instance writes."""
        return self._doc.client_id

    def append(self, events: Sequence[CaseEvent]) -> bytes:
        """Append events in one transaction.

        Args:
            events: at least one event, already validated by the caller.

        Returns:
            The incremental update: exactly what this transaction wrote.

        Raises:
            InvalidError: ``events`` is empty (an envelope must carry something).
        """
        if not events:
            raise InvalidError("没有要记录的办件事件", code="no_events")
        texts = [encode_event(event).decode() for event in events]
        before = self._doc.get_state()
        with self._doc.transaction():
            self._array.extend(texts)
        update = self._doc.get_update(before)
        self._remember(update)
        return update

    def state(self) -> bytes:
        """The full state, to store and to :meth:`load` later."""
        return self._doc.get_update()

    def event_texts(self) -> list[str]:
        """Every element as JSON text, in document order (a non-string element as its JSON)."""
        return [
            value if isinstance(value, str) else _ENCODER.encode(value).decode()
            for value in self._elements()
        ]

    def events(self) -> tuple[list[CaseEvent], list[str]]:
        """Decode the document.

        Returns:
            The events in document order, and the texts of elements that are not events
            (a checked document has none).
        """
        decoded: list[CaseEvent] = []
        failed: list[str] = []
        for value in self._elements():
            if not isinstance(value, str):
                failed.append(_ENCODER.encode(value).decode())
                continue
            try:
                decoded.append(decode_event(value))
            except InvalidError:
                failed.append(value)
        return decoded, failed

    def apply_checked(self, update: bytes, *, origin: str, client_id: int, case_id: str) -> Check:
        """Apply one envelope's update if it keeps the structural rules.

        The rules, checked in this order: the bytes decode (``undecodable_update``); only
        ``client_id`` gains clock (``foreign_client``); nothing is written outside the events
        array (``unknown_root``); nothing is deleted (``deletes_history``); every added element
        is an event's JSON text (``malformed_event``) of this case (``case_mismatch``) recorded
        by ``origin`` (``foreign_node_event``). When one fails the document is exactly as before.

        Args:
            update: the envelope's update bytes.
            origin: the envelope's signing node.
            client_id: the client id the envelope declares.
            case_id: the envelope's case.

        Returns:
            The verdict; see :class:`Check`.
        """
        doc = self._doc
        with doc.transaction():  # one transaction for several reads: pycrdt's are not free
            sv_before = doc.get_state()
            count_before = len(self._array)
        try:
            doc.apply_update(update)
        except BaseException as exc:
            # pyo3 panics derive from BaseException; anything else of that kind must propagate.
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            self._restore()
            return _reject(Reason.UNDECODABLE_UPDATE, f"pycrdt 无法解析更新：{exc}")
        with doc.transaction():
            sv_after = doc.get_state()
            residue = pycrdt.get_update(update, sv_after)
            if sv_after == sv_before and residue == _NOTHING:
                return Check(ok=True)  # a duplicate or an empty update: nothing new, nothing held
            check = self._verify(
                sv_before,
                sv_after,
                residue,
                count_before,
                origin=origin,
                client_id=client_id,
                case_id=case_id,
            )
        if not check.ok or check.pending:
            self._restore()
            return check
        self._remember(update)
        return check

    def apply_batch(
        self, items: Sequence[tuple[bytes, str, int]], *, case_id: str
    ) -> tuple[CaseEvent, ...] | None:
        """Apply several envelopes' updates at once when all of them are plainly honest.

        ``items`` are ``(update, origin, client_id)`` in log order. This is the fast path for a
        backlog: one pycrdt transaction and one check for the whole run instead of one per
        envelope. It succeeds only when every update integrates completely (nothing pending,
        nothing deleted), each declared client id is distinct and gains clock, nothing is
        written outside the events array, and every added element is an event of this case
        signed by the origin that owns the client id that wrote it.

        Returns:
            The events the updates added (each update's in document order, the updates in
            ``items`` order, except for a new document: document order); or None, with the
            document exactly as before, when anything is unusual — the caller then checks the
            updates one by one with :meth:`apply_checked`, which says precisely what is wrong.
        """
        declared = {client_id: origin for _, origin, client_id in items}
        if len(declared) != len(items):
            return None
        doc = self._doc
        with doc.transaction():
            sv_before = doc.get_state()
            count_before = len(self._array)
        try:
            with doc.transaction():
                for update, _, _ in items:
                    doc.apply_update(update)
        except BaseException as exc:
            if not isinstance(exc, Exception) and type(exc).__name__ != "PanicException":
                raise
            self._restore()
            return None
        added = self._batch_added(items, sv_before, count_before, declared, case_id)
        if added is None:
            self._restore()
            return None
        for update, _, _ in items:
            self._remember(update)
        return added

    def _batch_added(
        self,
        items: Sequence[tuple[bytes, str, int]],
        sv_before: bytes,
        count_before: int,
        declared: dict[int, str],
        case_id: str,
    ) -> tuple[CaseEvent, ...] | None:
        doc, array = self._doc, self._array
        with doc.transaction():
            sv_after = doc.get_state()
            if any(pycrdt.get_update(update, sv_after) != _NOTHING for update, _, _ in items):
                return None
            before = _vector(sv_before)
            gained = _gains(before, _vector(sv_after))
            if set(gained) != set(declared):
                return None
            spent = sum(gained.values())
            if count_before + spent != len(array):
                return None
            origins = set(declared.values())
            if count_before == 0 and len(origins) == 1:
                # A new document written by one node's clients only: every element is new and
                # must be that node's event, so no element needs attributing to its client
                # (the per-element item id look-up is most of the cost of a large backlog).
                return _events_of_node(_LIST_DECODER.decode(str(array)), origins.pop(), case_id)
            since = {c: _uint(before.get(_varuint(c), b"\x00")) for c in declared}
            by_client: dict[int, list[CaseEvent]] = {c: [] for c in declared}
            elements = _LIST_DECODER.decode(str(array))
            for position in range(count_before + spent - 1, -1, -1):
                if spent == 0:
                    break
                sticky = array.sticky_index(position, pycrdt.Assoc.AFTER).encode()
                client, clock = _item_id(sticky)
                if client not in declared or clock < since[client]:
                    continue
                value = elements[position]
                if not isinstance(value, str):
                    return None
                try:
                    event = decode_event(value)
                except InvalidError:
                    return None
                if event.case_id != case_id or event.node_id != declared[client]:
                    return None
                by_client[client].append(event)
                spent -= 1
            if spent:
                return None
        return tuple(e for _, _, client_id in items for e in reversed(by_client[client_id]))

    def _verify(
        self,
        sv_before: bytes,
        sv_after: bytes,
        residue: bytes,
        count_before: int,
        *,
        origin: str,
        client_id: int,
        case_id: str,
    ) -> Check:
        before = _vector(sv_before)
        gained = _gains(before, _vector(sv_after))
        foreign = sorted(client for client in gained if client != client_id)
        if foreign:
            return _reject(
                Reason.FOREIGN_CLIENT,
                f"更新写入了写入标识 {', '.join(map(str, foreign))} 的数据，"
                f"信封声明的写入标识是 {client_id}",
            )
        pending = residue[0] != 0
        deletes = not pending and residue[1:] != b"\x00"
        spent = sum(gained.values())
        since = _uint(before.get(_varuint(client_id), b"\x00")) if client_id >= 0 else 0
        positions = self._new_positions(client_id, since, spent)
        missing = count_before + len(positions) - len(self._array)
        hidden = spent - len(positions)
        if hidden:
            outside = self._outside_roots()
            if outside:
                return _reject(
                    Reason.UNKNOWN_ROOT, f"更新写入了事件列表之外的数据：{'、'.join(outside)}"
                )
        if missing or deletes:
            return _reject(
                Reason.DELETES_HISTORY,
                f"更新删除了 {missing} 条已有事件"
                if missing
                else "更新带有删除记录（办件事件只能追加）",
            )
        events: list[CaseEvent] = []
        for number, position in enumerate(positions, 1):
            value = self._array[position]
            if not isinstance(value, str):
                return _reject(
                    Reason.MALFORMED_EVENT, f"新增的第 {number} 项不是事件文本：{_show(value)}"
                )
            try:
                events.append(decode_event(value))
            except InvalidError as exc:
                return _reject(Reason.MALFORMED_EVENT, f"新增的第 {number} 项无法解析：{exc}")
        for event in events:
            if event.case_id != case_id:
                return _reject(
                    Reason.CASE_MISMATCH,
                    f"事件 {event.id} 属于办件 {event.case_id}，信封属于办件 {case_id}",
                )
        for event in events:
            if event.node_id != origin:
                return _reject(
                    Reason.FOREIGN_NODE_EVENT,
                    f"事件 {event.id} 署名节点 {event.node_id}，信封来自节点 {origin}",
                )
        if hidden:
            return _reject(
                Reason.UNKNOWN_ROOT,
                f"更新写入了 {spent} 个单元，新增事件只有 {len(positions)} 条，"
                "其余数据不在事件列表中",
            )
        if pending:
            return Check(ok=True, pending=True)
        return Check(ok=True, added=tuple(events))

    def _new_positions(self, client_id: int, since: int, spent: int) -> list[int]:
        """Positions of the elements ``client_id`` wrote from clock ``since`` on.

        Every element costs at least one clock, so there are at most ``spent``. The scan runs
        from the end, where an update's elements usually are, and stops when it has them all.
        """
        found: list[int] = []
        array = self._array
        for position in range(len(array) - 1, -1, -1):
            if len(found) == spent:
                break
            # A sticky index encodes the id (client, clock) of the item at that position.
            client, clock = _item_id(array.sticky_index(position, pycrdt.Assoc.AFTER).encode())
            if client == client_id and clock >= since:
                found.append(position)
        found.reverse()
        return found

    def _outside_roots(self) -> list[str]:
        """Names of data outside the events array (rare path: builds a scratch Doc)."""
        roots = list(self._doc.keys())
        found = [f"根“{name}”" for name in roots if name != EVENTS_ROOT]
        scratch: pycrdt.Doc[Any] = pycrdt.Doc()
        scratch.apply_update(self._doc.get_update())
        # An untyped root can be viewed as a Map: keys there mean the root is not a plain Array.
        keys = list(scratch.get(EVENTS_ROOT, type=pycrdt.Map).keys())
        if keys:
            found.append(f"“{EVENTS_ROOT}”中的键 {'、'.join(sorted(keys))}")
        return found

    def _elements(self) -> list[Any]:
        return _LIST_DECODER.decode(str(self._array))

    def _remember(self, update: bytes) -> None:
        self._log.append(update)
        if len(self._log) >= _COMPACT_AFTER:
            self._base = self._doc.get_update()
            self._log.clear()

    def _restore(self) -> None:
        """Rebuild the Doc from what it held before the last apply (same client id)."""
        doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=self._doc.client_id)
        self._doc = doc
        self._array = doc.get(EVENTS_ROOT, type=pycrdt.Array)
        if self._base is not None:
            doc.apply_update(self._base)
        for update in self._log:
            doc.apply_update(update)


def events_of(state: bytes | None) -> list[CaseEvent]:
    """The events of a stored case document, in document order.

    Raises:
        InvalidError: the state is corrupt or holds elements that are not events.
    """
    events, failed = CaseDoc.load(state).events()
    if failed:
        raise InvalidError(f"办件文档中有 {len(failed)} 项不是有效事件", code="case_doc_corrupt")
    return events


def _events_of_node(
    elements: Sequence[Any], node_id: str, case_id: str
) -> tuple[CaseEvent, ...] | None:
    """``elements`` decoded, if every one is an event of ``case_id`` recorded by ``node_id``."""
    events: list[CaseEvent] = []
    for value in elements:
        if not isinstance(value, str):
            return None
        try:
            event = decode_event(value)
        except InvalidError:
            return None
        if event.case_id != case_id or event.node_id != node_id:
            return None
        events.append(event)
    return tuple(events)


def _reject(reason: Reason, detail: str) -> Check:
    return Check(ok=False, reason=reason, detail=detail)


def _show(value: Any) -> str:
    shown = (
        str(value) if isinstance(value, pycrdt.Map | pycrdt.Array | pycrdt.Text) else repr(value)
    )
    return shown[:200]


def _vector(sv: bytes) -> dict[bytes, bytes]:
    """A lib0 v1 state vector (count, then client/clock pairs) as raw varint tokens."""
    tokens = _VARINT.findall(sv)[1:]
    return dict(zip(tokens[0::2], tokens[1::2], strict=True))


def _gains(before: dict[bytes, bytes], after: dict[bytes, bytes]) -> dict[int, int]:
    """Clock gained per client; only changed entries are decoded (clocks never go back)."""
    return {
        _uint(client): _uint(clock) - _uint(before.get(client, b"\x00"))
        for client, clock in after.items()
        if before.get(client) != clock
    }


def _item_id(sticky: bytes) -> tuple[int, int]:
    """(client, clock) of an encoded sticky index that points at an item; (-1, -1) otherwise."""
    if not sticky or sticky[0] != 0:
        return -1, -1
    tokens = _VARINT.findall(sticky, 1)
    return _uint(tokens[0]), _uint(tokens[1])


def _uint(token: bytes) -> int:
    if len(token) == 1:  # most clocks: a case's writers make a few elements each
        return token[0]
    value = 0
    for shift, byte in enumerate(token):
        value |= (byte & 0x7F) << (7 * shift)
    return value


def _varuint(number: int) -> bytes:
    out = bytearray()
    while number > 0x7F:
        out.append(number & 0x7F | 0x80)
        number >>= 7
    out.append(number)
    return bytes(out)
