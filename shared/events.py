"""Case events: the append-only record of everything that happens to a case.

Every tier stores the same events and folds them (see :mod:`shared.fold`) into status,
deadlines and light. The wire form is msgspec JSON with a ``kind`` tag; the tags are part of
the replication format and must never be renamed. Decoding checks structure and types only;
business rules are checked by :meth:`EventBase.validate`, which the recording side calls
before it appends an event.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from shared.errors import InvalidError
from shared.event_base import EVENT_FORMAT, SYSTEM_ACTOR, EventBase
from shared.event_parts import (
    Applicant,
    ApplicantKind,
    DeferredMaterial,
    DeliveryMethod,
    ForwardMode,
    IdType,
    MissingMaterial,
    Opinion,
    Outcome,
    RatingChannel,
    RatingGrade,
    ReceiptChannel,
    Satisfaction,
    UrgeLevel,
)
from shared.handling_events import (
    CertificateIssued,
    ClockPaused,
    ClockResumed,
    Decided,
    DeferredSupplied,
    Delivered,
    DepartmentReviewed,
    ExtensionGranted,
    Forwarded,
    Withdrawn,
)
from shared.intake_events import (
    Accepted,
    CorrectionReceived,
    CorrectionRequested,
    DecidedOnSpot,
    DeemedAccepted,
    Received,
    Refused,
)
from shared.supervision_events import (
    ComplaintAnswered,
    ComplaintFiled,
    Rated,
    UrgeAnswered,
    Urged,
)
from shared.terms import ProcedureKind

__all__ = [
    "EVENT_FORMAT",
    "EVENT_KINDS",
    "EVENT_LABELS",
    "SYSTEM_ACTOR",
    "Accepted",
    "Applicant",
    "ApplicantKind",
    "CaseEvent",
    "CertificateIssued",
    "ClockPaused",
    "ClockResumed",
    "ComplaintAnswered",
    "ComplaintFiled",
    "CorrectionReceived",
    "CorrectionRequested",
    "Decided",
    "DecidedOnSpot",
    "DeemedAccepted",
    "DeferredMaterial",
    "DeferredSupplied",
    "Delivered",
    "DeliveryMethod",
    "DepartmentReviewed",
    "EventBase",
    "ExtensionGranted",
    "ForwardMode",
    "Forwarded",
    "IdType",
    "MissingMaterial",
    "Opinion",
    "Outcome",
    "ProcedureKind",
    "Rated",
    "RatingChannel",
    "RatingGrade",
    "ReceiptChannel",
    "Received",
    "Refused",
    "Satisfaction",
    "UrgeAnswered",
    "UrgeLevel",
    "Urged",
    "Withdrawn",
    "decode_event",
    "encode_event",
]

CaseEvent: TypeAlias = (
    Received
    | CorrectionRequested
    | CorrectionReceived
    | Accepted
    | DeemedAccepted
    | Refused
    | DecidedOnSpot
    | Forwarded
    | DepartmentReviewed
    | ClockPaused
    | ClockResumed
    | ExtensionGranted
    | Decided
    | CertificateIssued
    | Delivered
    | Withdrawn
    | DeferredSupplied
    | Urged
    | UrgeAnswered
    | Rated
    | ComplaintFiled
    | ComplaintAnswered
)

EVENT_KINDS: tuple[type[EventBase], ...] = (
    Received,
    CorrectionRequested,
    CorrectionReceived,
    Accepted,
    DeemedAccepted,
    Refused,
    DecidedOnSpot,
    Forwarded,
    DepartmentReviewed,
    ClockPaused,
    ClockResumed,
    ExtensionGranted,
    Decided,
    CertificateIssued,
    Delivered,
    Withdrawn,
    DeferredSupplied,
    Urged,
    UrgeAnswered,
    Rated,
    ComplaintFiled,
    ComplaintAnswered,
)
EVENT_LABELS: dict[str, str] = {cls.KIND: cls.LABEL for cls in EVENT_KINDS}

_ENCODER = msgspec.json.Encoder()
_DECODER: msgspec.json.Decoder[CaseEvent] = msgspec.json.Decoder(CaseEvent)


def encode_event(event: CaseEvent) -> bytes:
    """Serialise an event to its wire form (msgspec JSON with a ``kind`` tag)."""
    return _ENCODER.encode(event)


def decode_event(data: bytes | str) -> CaseEvent:
    """Parse an event from its wire form.

    Args:
        data: JSON bytes as made by :func:`encode_event`.

    Returns:
        The typed event. Business rules are not checked here; see :meth:`EventBase.validate`.

    Raises:
        InvalidError: the data is not JSON, names an unknown kind, or has wrong field types.
    """
    try:
        return _DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise InvalidError(f"办件事件内容不符合格式：{exc}", code="event_invalid") from exc
    except msgspec.DecodeError as exc:
        raise InvalidError(f"办件事件不是有效的JSON：{exc}", code="event_malformed") from exc
