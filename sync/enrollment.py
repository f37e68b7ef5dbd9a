"""Enrollment: how a new node gets its key registered and the county key pinned.

The county issues a one-time token for a node it has already entered in the registry (id, name,
tier, parent). The token text is ``<secret>.<county key fingerprint>``: the secret proves the
right to enroll once, and the fingerprint lets the node check that the key answering its
enrollment is the county's. The node generates its keypair locally — the private key never
leaves its data folder — and sends the public key with the token up the tree; a township relays
the request to the county unchanged.
"""

from __future__ import annotations

import hashlib
import secrets

import httpx
import msgspec

from shared.errors import InvalidError, UnavailableError
from shared.registry import NodeRecord
from sync.problems import error_from_problem

TOKEN_BYTES = 24
TIMEOUT_SECONDS = 30.0


class EnrollRequest(msgspec.Struct, frozen=True, kw_only=True):
    """What a node sends: its token and its freshly generated public key."""

    token: str
    public_key: str
    software_version: str = ""


class EnrollResponse(msgspec.Struct, frozen=True, kw_only=True):
    """What the county answers: who the node is, the county key and the current release."""

    node: NodeRecord
    county_key: str
    release: bytes


def new_token(county_fingerprint: str) -> tuple[str, str]:
    """A fresh token text and the hash under which the county stores it."""
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    return f"{secret}.{county_fingerprint.replace(':', '')}", token_hash(secret)


def split_token(token: str) -> tuple[str, str]:
    """The secret and the county fingerprint (hex, no separators) of a token text.

    Raises:
        InvalidError: the text is not a token.
    """
    secret, dot, fingerprint = token.strip().rpartition(".")
    if not dot or not secret or len(fingerprint) != 16:
        raise InvalidError("注册令牌格式不正确，请核对县中心提供的令牌。", code="token_invalid")
    return secret, fingerprint.lower()


def token_hash(secret: str) -> str:
    """How a token is stored: only its hash, so a database dump cannot enroll anyone."""
    return hashlib.sha256(secret.encode()).hexdigest()


async def request_enrollment(
    parent_url: str, request: EnrollRequest, *, transport: httpx.AsyncBaseTransport | None = None
) -> EnrollResponse:
    """POST the enrollment to the parent (which relays it to the county if it is a township).

    Raises:
        UnavailableError: the parent cannot be reached.
        InvalidError / PlatformError: the county refused the token (message in Chinese).
    """
    url = parent_url.rstrip("/") + "/api/v1/enroll"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=transport) as client:
            response = await client.post(
                url,
                content=msgspec.json.encode(request),
                headers={"Content-Type": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise UnavailableError(f"无法连接上级 {parent_url}：{type(exc).__name__}") from exc
    if response.status_code != 200:
        raise error_from_problem(response, "注册")
    try:
        return msgspec.json.decode(response.content, type=EnrollResponse)
    except msgspec.DecodeError as exc:
        raise InvalidError(f"注册应答无法解析：{exc}", code="enroll_malformed") from exc


async def relay_enrollment(
    parent_url: str, body: bytes, *, transport: httpx.AsyncBaseTransport | None = None
) -> tuple[int, bytes, str]:
    """Pass an enrollment request to the parent unchanged; return its status, body, type."""
    url = parent_url.rstrip("/") + "/api/v1/enroll"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, transport=transport) as client:
            response = await client.post(
                url, content=body, headers={"Content-Type": "application/json"}
            )
    except httpx.HTTPError as exc:
        raise UnavailableError(
            f"本节点暂时无法连接上级，注册请求未能转交：{type(exc).__name__}"
        ) from exc
    return response.status_code, response.content, response.headers.get("content-type", "")
