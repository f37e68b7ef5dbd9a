"""Signed catalog releases: made by the county, opened by every tier (sync.releases)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.calendar import CalendarYear
from shared.calendar_data import OFFICIAL_YEARS
from shared.catalog import Catalog, decode_catalog
from shared.delegation import Tier
from shared.digest import sha256_hex
from shared.errors import ConflictError, InvalidError, SignatureInvalidError, ValidationError
from shared.registry import NodeRecord, Registry
from shared.signing import SigningKey
from sync.releases import (
    RELEASE_FORMAT,
    SIGNING_DOMAIN,
    ReleaseContent,
    SignedRelease,
    decode_release,
    encode_release,
    make_release,
    open_release,
)

COUNTY_KEY = SigningKey.generate()
OTHER_KEY = SigningKey.generate()
PUBLISHED = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
CATALOG: Catalog = decode_catalog((files("tongban") / "demo_catalog.json").read_bytes())
REGISTRY = Registry(
    nodes=(
        NodeRecord(
            node_id="county",
            name="示范县政务服务中心",
            tier=Tier.COUNTY,
            parent=None,
            short_code="X",
            public_key=COUNTY_KEY.public_key.to_text(),
        ),
        NodeRecord(
            node_id="zhen-shifan",
            name="示范镇便民服务中心",
            tier=Tier.TOWNSHIP,
            parent="county",
            short_code="S",
        ),
        NodeRecord(
            node_id="she-dongcun",
            name="东村社区便民服务站",
            tier=Tier.COMMUNITY,
            parent="zhen-shifan",
            short_code="SD",
            public_key=OTHER_KEY.public_key.to_text(),
        ),
    )
)


def content(
    version: int = 4,
    *,
    catalog: Catalog = CATALOG,
    registry: Registry = REGISTRY,
    calendar: tuple[CalendarYear, ...] = OFFICIAL_YEARS,
) -> ReleaseContent:
    return ReleaseContent(
        version=version,
        published_at=PUBLISHED,
        catalog=catalog,
        calendar=calendar,
        registry=registry,
    )


RELEASE = make_release(COUNTY_KEY, content())


def resigned(body: bytes, *, version: int = 4) -> SignedRelease:
    """A release of arbitrary bytes, correctly hashed and signed by the county."""
    return SignedRelease(
        format=RELEASE_FORMAT,
        version=version,
        content_hash=sha256_hex(body),
        content=body,
        signature=COUNTY_KEY.sign(SIGNING_DOMAIN + body),
    )


def open_(release: SignedRelease, current: int | None = None) -> ReleaseContent:
    return open_release(release, COUNTY_KEY.public_key, current_version=current)


# --- making and opening -----------------------------------------------------------------------


def test_release_round_trip_keeps_the_exact_signed_bytes() -> None:
    wire = encode_release(RELEASE)
    received = decode_release(wire)
    assert received == RELEASE
    assert received.content == msgspec.json.encode(content())
    assert received.content_hash == sha256_hex(received.content)
    assert open_(received) == content()
    assert open_(received).registry.get("she-dongcun") == REGISTRY.nodes[2]


def test_release_wire_form_is_json_with_base64_bytes() -> None:
    document = json.loads(encode_release(RELEASE))
    assert sorted(document) == ["content", "content_hash", "format", "signature", "version"]
    assert document["format"] == 2 and document["version"] == 4
    assert isinstance(document["content"], str) and isinstance(document["signature"], str)


def test_release_opens_when_newer_than_the_current_version() -> None:
    assert open_(RELEASE, current=3).version == 4
    assert open_(make_release(COUNTY_KEY, content(9)), current=4).version == 9


# --- damage and forgery -----------------------------------------------------------------------


def test_release_with_tampered_content_is_refused_by_its_hash() -> None:
    tampered = msgspec.structs.replace(RELEASE, content=RELEASE.content.replace(b"X01", b"X91"))
    with pytest.raises(InvalidError) as caught:
        open_(tampered)
    assert caught.value.code == "release_hash"
    assert (
        caught.value.message == "第 4 版目录发布的内容与其摘要不符，可能在传输中损坏，请重新获取。"
    )


def test_release_with_tampered_hash_is_refused() -> None:
    tampered = msgspec.structs.replace(RELEASE, content_hash=sha256_hex(b"other"))
    with pytest.raises(InvalidError) as caught:
        open_(tampered)
    assert caught.value.code == "release_hash"


def test_release_with_tampered_content_and_matching_hash_fails_the_signature() -> None:
    body = RELEASE.content.replace(b"X01", b"X91")
    tampered = msgspec.structs.replace(RELEASE, content=body, content_hash=sha256_hex(body))
    with pytest.raises(SignatureInvalidError) as caught:
        open_(tampered)
    assert caught.value.code == "release_signature"


def test_release_with_tampered_signature_is_refused() -> None:
    sig = bytes([RELEASE.signature[0] ^ 1]) + RELEASE.signature[1:]
    with pytest.raises(SignatureInvalidError) as caught:
        open_(msgspec.structs.replace(RELEASE, signature=sig))
    assert caught.value.code == "release_signature"


def test_release_signed_by_another_key_is_refused() -> None:
    forged = make_release(OTHER_KEY, content())
    with pytest.raises(SignatureInvalidError) as caught:
        open_(forged)
    assert caught.value.code == "release_signature"
    assert "不是县级中心密钥签发的" in caught.value.message


def test_release_signature_does_not_cover_a_bare_content_signature() -> None:
    # A signature over the content without the domain prefix is not a release signature.
    bare = msgspec.structs.replace(RELEASE, signature=COUNTY_KEY.sign(RELEASE.content))
    with pytest.raises(SignatureInvalidError):
        open_(bare)


def test_release_of_an_unknown_format_is_refused_first() -> None:
    future = msgspec.structs.replace(RELEASE, format=3, content_hash="")
    with pytest.raises(InvalidError) as caught:
        open_(future)
    assert caught.value.code == "release_format"


def test_release_whose_label_disagrees_with_its_content_is_refused() -> None:
    relabelled = msgspec.structs.replace(RELEASE, version=7)
    with pytest.raises(InvalidError) as caught:
        open_(relabelled, current=4)
    assert caught.value.code == "release_version"


def test_release_with_undecodable_signed_content_is_refused() -> None:
    with pytest.raises(InvalidError) as caught:
        open_(resigned(b'{"version": 4}'))
    assert caught.value.code == "release_decode"


def test_release_with_a_naive_publication_time_is_refused() -> None:
    naive = msgspec.json.encode(content()).replace(b"2026-03-02T02:00:00Z", b"2026-03-02T02:00:00")
    assert naive != msgspec.json.encode(content())
    with pytest.raises(InvalidError) as caught:
        open_(resigned(naive))
    assert caught.value.code == "release_decode"


def test_release_decode_refuses_garbage() -> None:
    with pytest.raises(InvalidError) as caught:
        decode_release(b"[]")
    assert caught.value.code == "release_decode"


# --- versions ---------------------------------------------------------------------------------


def test_release_older_than_the_current_one_is_refused_as_rollback() -> None:
    with pytest.raises(ConflictError) as caught:
        open_(RELEASE, current=5)
    assert caught.value.code == "catalog_rollback"
    assert caught.value.message == "收到的第 4 版目录早于本机正在使用的第 5 版，已拒绝回退。"


def test_release_of_the_current_version_is_refused() -> None:
    with pytest.raises(ConflictError) as caught:
        open_(RELEASE, current=4)
    assert caught.value.code == "catalog_rollback"
    assert "已发布的版本不可更改" in caught.value.message


def test_release_version_zero_is_refused() -> None:
    with pytest.raises(InvalidError) as caught:
        open_(make_release(COUNTY_KEY, content(0)))
    assert caught.value.code == "release_version"


# --- content checks ---------------------------------------------------------------------------


def test_release_with_an_invalid_catalog_lists_its_problems() -> None:
    bad = msgspec.structs.replace(CATALOG, items=(*CATALOG.items, CATALOG.items[0]))
    with pytest.raises(ValidationError) as caught:
        open_(make_release(COUNTY_KEY, content(catalog=bad)))
    assert caught.value.problems == ["事项目录：事项编号（items.code）X01 重复"]
    assert caught.value.message.startswith("第 4 版目录发布的内容有误，未安装：")


def test_release_with_an_invalid_registry_lists_its_problems() -> None:
    orphan = NodeRecord(
        node_id="she-xicun", name="西村", tier=Tier.COMMUNITY, parent="zhen-none", short_code="SX"
    )
    bad_key = msgspec.structs.replace(REGISTRY.nodes[1], public_key="ed25519:nonsense")
    registry = Registry(nodes=(REGISTRY.nodes[0], bad_key, REGISTRY.nodes[2], orphan))
    with pytest.raises(ValidationError) as caught:
        open_(make_release(COUNTY_KEY, content(registry=registry)))
    assert caught.value.problems == [
        "节点登记表：节点 she-xicun 的上级 zhen-none 未登记。",
        "节点登记表：节点 zhen-shifan 的公钥无效（公钥文本格式不正确：应以“ed25519:”开头，"
        "后接 43 个字符的 base64url 编码。）",
    ]


def test_release_with_an_invalid_calendar_lists_its_problems() -> None:
    with pytest.raises(ValidationError) as caught:
        open_(make_release(COUNTY_KEY, content(calendar=())))
    assert caught.value.problems == ["工作日历：至少需要录入一个年度的放假安排"]


def test_release_content_problems_are_all_reported_together() -> None:
    bad = msgspec.structs.replace(CATALOG, items=(*CATALOG.items, CATALOG.items[0]))
    release = make_release(COUNTY_KEY, content(catalog=bad, calendar=()))
    with pytest.raises(ValidationError) as caught:
        open_(release)
    assert len(caught.value.problems) == 2


# --- any change is caught ---------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_release_any_single_byte_change_to_content_is_refused(data: st.DataObject) -> None:
    body = RELEASE.content
    index = data.draw(st.integers(min_value=0, max_value=len(body) - 1), label="index")
    value = data.draw(st.integers(0, 255).filter(lambda b: b != body[index]), label="byte")
    changed = body[:index] + bytes([value]) + body[index + 1 :]
    with pytest.raises(InvalidError) as caught:
        open_(msgspec.structs.replace(RELEASE, content=changed))
    assert caught.value.code == "release_hash"
    rehashed = msgspec.structs.replace(RELEASE, content=changed, content_hash=sha256_hex(changed))
    with pytest.raises(SignatureInvalidError):
        open_(rehashed)
