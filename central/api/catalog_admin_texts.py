"""The catalog draft's history in words: each audit action as a zh / en interface text.

The audit keeps stable action codes (``item_created``, ``published`` …) for machines; pages
show them through these texts so a Chinese page never shows a raw code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from web.i18n import add_messages

_VERSION_SUBJECTS = frozenset({"draft_started", "published"})
"""Actions whose subject is a release written as ``v<number>``."""
_COMMENT_SUBJECTS = frozenset({"approved", "returned"})
"""Actions whose subject is the reviewer's comment."""

_TEXTS = {
    "draft_started": ("从第 {subject} 版开始草稿", "started the draft from version {subject}"),
    "item_created": ("新增事项 {subject}", "added item {subject}"),
    "item_changed": ("修改事项 {subject}", "changed item {subject}"),
    "item_removed": ("删除事项 {subject}", "removed item {subject}"),
    "delegated": ("下放事项 {subject}", "delegated item {subject}"),
    "delegation_revoked": ("撤销事项 {subject} 的下放", "revoked a delegation of item {subject}"),
    "calendar_year_set": ("录入 {subject} 年工作日历", "entered the {subject} working calendar"),
    "submitted": ("提交审核", "submitted for review"),
    "approved": ("审核通过", "approved"),
    "returned": ("退回修改", "returned for changes"),
    "discarded": ("放弃草稿", "discarded the draft"),
    "published": ("发布第 {subject} 版", "published version {subject}"),
}

add_messages(
    {f"catalog.audit.{action}": {"zh": zh, "en": en} for action, (zh, en) in _TEXTS.items()}
)
add_messages(
    {
        "catalog.audit.comment": {"zh": "（意见：{comment}）", "en": " (comment: {comment})"},
        "catalog.audit.unknown": {"zh": "操作 {action} {subject}", "en": "{action} {subject}"},
    }
)


class Audited(Protocol):
    """What a page needs of an audit line (the service's audit entries have it)."""

    @property
    def at(self) -> datetime: ...

    @property
    def actor(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def subject(self) -> str: ...


@dataclass(frozen=True)
class AuditLine:
    """An audit line as a page shows it."""

    at: datetime
    actor: str
    text: str


def audit_lines(entries: Iterable[Audited], t: Callable[[str], str]) -> list[AuditLine]:
    """The lines of a draft's history, worded for the page's language."""
    return [AuditLine(e.at, e.actor, audit_text(e.action, e.subject, t)) for e in entries]


def audit_text(action: str, subject: str, t: Callable[[str], str]) -> str:
    """One audit line's action and subject as a sentence in the page's language."""
    if action not in _TEXTS:
        # A new action nobody has worded yet still shows, by its code.
        unknown = t("catalog.audit.unknown").replace("{action}", action)
        return unknown.replace("{subject}", subject).strip()
    if action in _VERSION_SUBJECTS:
        subject = subject.removeprefix("v")
    text = t(f"catalog.audit.{action}").replace("{subject}", subject)
    if action in _COMMENT_SUBJECTS and subject:
        text += t("catalog.audit.comment").replace("{comment}", subject)
    return text
