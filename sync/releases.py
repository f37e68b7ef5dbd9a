"""Catalog releases as they travel down the tree.

A release carries the exact published catalog bytes and their SHA-256, so every tier holds
byte-identical catalogs and can show which version it runs. (Issue #3 adds the county
signature; the content hash check stays the first thing a receiver does.)
"""

from __future__ import annotations

from datetime import datetime

import httpx
import msgspec

from shared.digest import sha256_hex
from shared.errors import InvalidError, UnavailableError

RELEASE_FORMAT = 1
FETCH_TIMEOUT_SECONDS = 10.0


class ReleaseDocument(msgspec.Struct, frozen=True, kw_only=True):
    """One catalog release on the wire."""

    format: int = RELEASE_FORMAT
    version: int
    content_hash: str
    published_at: datetime
    body: str

    def checked_body(self) -> bytes:
        """The catalog bytes, after checking they match the announced hash.

        Raises:
            InvalidError: wrong format version or the body does not match its hash.
        """
        if self.format != RELEASE_FORMAT:
            raise InvalidError(
                f"目录发布格式版本 {self.format} 不受支持（本机支持 {RELEASE_FORMAT}）。",
                code="release_format",
            )
        body = self.body.encode("utf-8")
        if sha256_hex(body) != self.content_hash:
            raise InvalidError("目录发布内容与其摘要不符，可能在传输中损坏。", code="release_hash")
        return body


async def fetch_release(
    parent_url: str, *, transport: httpx.AsyncBaseTransport | None = None
) -> ReleaseDocument | None:
    """The release the parent holds now; None when it holds none yet.

    Raises:
        UnavailableError: the parent could not be reached or answered with an error.
        InvalidError: the answer is not a release.
    """
    url = parent_url.rstrip("/") + "/api/v1/catalog/release"
    try:
        async with httpx.AsyncClient(timeout=FETCH_TIMEOUT_SECONDS, transport=transport) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        raise UnavailableError(f"无法连接上级中心 {parent_url}：{type(exc).__name__}") from exc
    if response.status_code == 404:
        return None
    if response.status_code != 200:
        raise UnavailableError(f"上级中心返回错误 HTTP {response.status_code}：{url}")
    try:
        return msgspec.json.decode(response.content, type=ReleaseDocument)
    except msgspec.DecodeError as exc:
        raise InvalidError(f"上级中心返回的目录发布无法解析：{exc}", code="release_decode") from exc
