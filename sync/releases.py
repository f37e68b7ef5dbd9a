"""Catalog releases as they travel down the tree.

A release (format 2) is an immutable, numbered snapshot of everything every tier must agree
on: the service-item catalog, the working calendar and the node registry. The county signs the
exact content bytes; every tier stores and relays those bytes unchanged, so a township can pass
a release on and its communities still verify the county's signature::

    content      = msgspec JSON of ReleaseContent (kept as the exact bytes signed)
    content_hash = hex SHA-256 of content
    signature    = Ed25519(county key, DOMAIN || content)

A receiver opens a release with :func:`open_release`, which refuses anything damaged, forged,
older than or as old as what it runs, or whose content does not pass the same checks the county
ran before publishing (:func:`release_problems`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

from shared.calendar import CalendarYear, WorkingCalendar
from shared.catalog import CATALOG_FORMAT, Catalog
from shared.digest import sha256_hex
from shared.errors import (
    ConflictError,
    InvalidError,
    SignatureInvalidError,
    ValidationError,
)
from shared.registry import Registry
from shared.signing import SigningKey, VerifyKey

RELEASE_FORMAT = 2
"""Format of :class:`SignedRelease`."""


SIGNING_DOMAIN = b"tongban-catalog-release/v2\x00"
"""Prefix of the signed message, so a release signature is never valid for anything else."""


class ReleaseContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What the county publishes in one release.

    Attributes:
        version: release number, from 1, increasing by the county's choice (gaps allowed).
        published_at: when the county published it (timezone-aware).
        catalog: the service-item catalog.
        calendar: the official working-day arrangements, one entry per year.
        registry: every node of the county, with its public key and status.
    """

    version: int
    published_at: Annotated[datetime, msgspec.Meta(tz=True)]
    catalog: Catalog
    calendar: tuple[CalendarYear, ...]
    registry: Registry


class SignedRelease(msgspec.Struct, frozen=True, kw_only=True):
    """A release on the wire and at rest; in JSON the byte fields are base64 text.

    Attributes:
        format: :data:`RELEASE_FORMAT`.
        version: copy of ``content.version``, so a receiver can skip a release it holds
            without decoding it; :func:`open_release` checks that both agree.
        content_hash: hex SHA-256 of ``content``, the release's identity.
        content: the exact msgspec JSON bytes of :class:`ReleaseContent` that were signed.
        signature: the county's Ed25519 signature over :data:`SIGNING_DOMAIN` + ``content``.
    """

    format: int
    version: int
    content_hash: str
    content: bytes
    signature: bytes


_ENCODER = msgspec.json.Encoder()
_CONTENT_DECODER = msgspec.json.Decoder(ReleaseContent)
_RELEASE_DECODER = msgspec.json.Decoder(SignedRelease)


def make_release(key: SigningKey, content: ReleaseContent) -> SignedRelease:
    """Encode and sign a release. Check :func:`release_problems` first: this only signs.

    Args:
        key: the county's private key.
        content: what to publish.
    """
    encoded = _ENCODER.encode(content)
    return SignedRelease(
        format=RELEASE_FORMAT,
        version=content.version,
        content_hash=sha256_hex(encoded),
        content=encoded,
        signature=key.sign(SIGNING_DOMAIN + encoded),
    )


def release_problems(content: ReleaseContent) -> list[str]:
    """Every problem in a release's content, in Chinese; empty when it may be published.

    The catalog, the node registry and the calendar are checked as a whole, so the county
    sees every mistake at once, and a receiver refuses exactly what the county would have.
    """
    problems: list[str] = []
    if content.catalog.format != CATALOG_FORMAT:
        problems.append(
            f"事项目录：格式版本为 {content.catalog.format}，本程序只支持版本 {CATALOG_FORMAT}。"
        )
    problems += [f"事项目录：{p}" for p in content.catalog.validate()]
    problems += [f"节点登记表：{p}" for p in content.registry.validate()]
    for node in content.registry.nodes:
        if node.public_key:
            try:
                VerifyKey.from_text(node.public_key)
            except InvalidError as exc:
                problems.append(f"节点登记表：节点 {node.node_id} 的公钥无效（{exc.message}）")
    try:
        WorkingCalendar(content.calendar)
    except ValidationError as exc:
        problems += [f"工作日历：{p}" for p in exc.problems]
    return problems


def open_release(
    release: SignedRelease, county_key: VerifyKey, *, current_version: int | None
) -> ReleaseContent:
    """Check a release and return its content.

    Checks, in order: format, content hash, county signature, decoding, version agreement,
    newer than ``current_version``, and :func:`release_problems`.

    Args:
        release: the release as received.
        county_key: the county's public key, as enrolled on this node.
        current_version: the release this node runs, None when it has none yet. The caller
            treats an identical re-delivery of its current release (same ``content_hash``) as
            a no-op before calling: here any release not newer than the current one is refused.

    Returns:
        The decoded content, safe to install.

    Raises:
        InvalidError: unsupported format (``release_format``), content not matching its hash
            (``release_hash``), content that does not decode (``release_decode``) or a version
            that disagrees with the content (``release_version``).
        SignatureInvalidError: not signed by the county key (``release_signature``).
        ConflictError: ``code="catalog_rollback"`` when the release is not newer than the one
            in force.
        ValidationError: the content breaks the catalog, registry or calendar rules; every
            problem is listed.
    """
    if release.format != RELEASE_FORMAT:
        raise InvalidError(
            f"目录发布格式版本 {release.format} 不受支持（本机支持 {RELEASE_FORMAT}），"
            "请升级本机软件。",
            code="release_format",
        )
    if sha256_hex(release.content) != release.content_hash:
        raise InvalidError(
            f"第 {release.version} 版目录发布的内容与其摘要不符，可能在传输中损坏，请重新获取。",
            code="release_hash",
        )
    try:
        county_key.verify(release.signature, SIGNING_DOMAIN + release.content)
    except SignatureInvalidError as exc:
        raise SignatureInvalidError(
            f"第 {release.version} 版目录发布的签名不是县级中心密钥签发的，已拒绝安装。"
            "请核对本机登记的县级公钥，或联系县级管理员。",
            code="release_signature",
        ) from exc
    try:
        content = _CONTENT_DECODER.decode(release.content)
    except msgspec.DecodeError as exc:
        raise InvalidError(
            f"第 {release.version} 版目录发布的内容无法解析：{exc}", code="release_decode"
        ) from exc
    if content.version != release.version or content.version < 1:
        raise InvalidError(
            f"目录发布标注的版本 {release.version} 与内容中的版本 {content.version} 不一致"
            "或不是正整数。",
            code="release_version",
        )
    if current_version is not None and content.version <= current_version:
        if content.version == current_version:
            message = (
                f"第 {content.version} 版目录已在本机生效，但收到的同版本发布内容不同，"
                "已拒绝：已发布的版本不可更改。"
            )
        else:
            message = (
                f"收到的第 {content.version} 版目录早于本机正在使用的第 {current_version} 版，"
                "已拒绝回退。"
            )
        raise ConflictError(message, code="catalog_rollback")
    problems = release_problems(content)
    if problems:
        raise ValidationError(
            problems,
            message=f"第 {content.version} 版目录发布的内容有误，未安装：" + "；".join(problems),
        )
    return content


def encode_release(release: SignedRelease) -> bytes:
    """The release as JSON bytes (``content`` and ``signature`` as base64 text)."""
    return _ENCODER.encode(release)


def decode_release(data: bytes) -> SignedRelease:
    """Parse a release from JSON bytes; :func:`open_release` then checks it.

    Raises:
        InvalidError: ``code="release_decode"`` when the bytes are not a release.
    """
    try:
        return _RELEASE_DECODER.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidError(f"目录发布无法解析：{exc}", code="release_decode") from exc
