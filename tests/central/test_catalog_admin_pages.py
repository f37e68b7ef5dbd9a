"""The county catalog pages as an administrator reads them, on SQLite and PostgreSQL: the draft's
history in words and in China time, what a published draft changed, the item form's layout,
and the county guide page showing every element a resident needs."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient

from central.api.catalog_admin_texts import audit_text
from central.settings import CentralSettings
from shared.catalog import Catalog
from tests.central.test_catalog_admin_api import county_with_catalog, csrf, login, send
from web.i18n import translator

Client = TestClient  # type: ignore[type-arg]
API = "/api/v1/admin/catalog"
PAGES = "/admin/catalog"
# Every action the catalog administration service writes to a draft's history.
DRAFT_ACTIONS = (
    "draft_started",
    "item_created",
    "item_changed",
    "item_removed",
    "delegated",
    "delegation_revoked",
    "calendar_year_set",
    "submitted",
    "approved",
    "returned",
    "discarded",
    "published",
)

pytestmark = pytest.mark.filterwarnings(
    r"ignore:\[paths='/(api/v1|admin)/accounts:litestar.exceptions.LitestarDeprecationWarning"
)


@pytest.fixture
def client(
    tmp_path: Path, central_database_url: str | None, demo_catalog_bytes: bytes
) -> Iterator[Client]:
    settings = CentralSettings(data_dir=tmp_path / "central", database_url=central_database_url)
    users = (("admin", "admin"), ("reviewer", "catalog_reviewer"))
    with county_with_catalog(settings, tmp_path, demo_catalog_bytes, users) as test_client:
        yield test_client


def publish_new_item(client: Client, demo_catalog: Catalog) -> int:
    """Draft, add X90, submit, approve, publish (as version 2); the draft's id."""
    login(client, "admin")
    draft_id = int(send(client, "POST", f"{API}/drafts").json()["id"])
    item = msgspec.to_builtins(demo_catalog.item("X02"))
    item.update(code="X90", name="新设事项")
    assert send(client, "POST", f"{API}/drafts/{draft_id}/items", item).status_code == 201
    assert send(client, "POST", f"{API}/drafts/{draft_id}/submit").status_code == 200
    login(client, "reviewer")
    review = {"approve": True, "comment": "同意发布"}
    assert send(client, "POST", f"{API}/drafts/{draft_id}/review", review).status_code == 200
    login(client, "admin")
    assert send(client, "POST", f"{API}/drafts/{draft_id}/publish").json()["version"] == 2
    return draft_id


def section(text: str, heading_id: str) -> str:
    found = re.search(rf'<section class="panel" id="{heading_id}">(.*?)</section>', text, re.S)
    assert found is not None, text
    return found.group(1)


def test_history_is_in_chinese_words_and_china_time(client: Client, demo_catalog: Catalog) -> None:
    draft_id = publish_new_item(client, demo_catalog)
    page = client.get(f"{PAGES}/drafts/{draft_id}").text
    history = page[page.index("操作记录") :]
    # FIXED_NOW is 02:00 UTC, 10:00 in Beijing.
    assert "2026-03-02 10:00" in history and "2026-03-02 02:00" not in history
    for words in ("从第 1 版开始草稿", "新增事项 X90", "提交审核", "审核通过（意见：同意发布）"):
        assert words in history, words
    assert "发布第 2 版" in history
    for code in ("draft_started", "item_created", "submitted", "approved", "published v2"):
        assert code not in history, code
    english = client.get(f"{PAGES}/drafts/{draft_id}", params={"lang": "en"}).text
    assert "published version 2" in english and "added item X90" in english


def test_published_draft_shows_what_its_release_changed(
    client: Client, demo_catalog: Catalog
) -> None:
    login(client, "admin")
    draft_id = int(send(client, "POST", f"{API}/drafts").json()["id"])
    before = section(client.get(f"{PAGES}/drafts/{draft_id}").text, "changes")
    assert "相对现行目录（第 1 版）的变化" in before and "与现行目录相同" in before
    # Starting again answers the open draft, which then gets X90 and is published.
    assert publish_new_item(client, demo_catalog) == draft_id
    published_id = draft_id
    after = section(client.get(f"{PAGES}/drafts/{published_id}").text, "changes")
    assert "第 2 版相对上一版（第 1 版）的变化" in after
    assert "新增事项 X90 新设事项" in after
    assert "与现行目录相同" not in after
    assert "/admin/catalog/releases?old=1&amp;new=2" in after


def test_release_history_shows_china_time(client: Client, demo_catalog: Catalog) -> None:
    publish_new_item(client, demo_catalog)
    page = client.get(f"{PAGES}/releases").text
    # Published at FIXED_NOW, 02:00 UTC: 10:00 in Beijing.
    assert "2026-03-02 10:00" in page and "2026-03-02 02:00" not in page


def test_item_form_puts_labels_above_full_width_fields(
    client: Client, demo_catalog: Catalog
) -> None:
    login(client, "admin")
    draft_id = int(send(client, "POST", f"{API}/drafts").json()["id"])
    page = client.get(f"{PAGES}/drafts/{draft_id}/items/X01").text
    start = page.index('class="admin-form item-form"')
    form = page[start : page.index("</form>", start)]
    assert form.count('<fieldset class="form-grid">') == 4
    # Each label sits in its field's box right before its own control.
    for name in ("code", "name", "code_basic", "legal_basis", "materials", "complaint_phone"):
        assert re.search(rf'<div class="field[^"]*"><label for="{name}">', form), name
    for name in ("legal_basis", "conditions", "materials", "special_procedures", "summary"):
        assert re.search(rf'<div class="field wide"><label for="{name}">', form), name
    # The material lines come back one per line, as typed.
    first = demo_catalog.item("X01").materials[0]
    assert f"{first.code}|{html.escape(first.name)}|" in form
    delegations = page[page.index("<h2>下放</h2>") :]
    assert '<input type="date" name="effective_on"' in delegations
    assert 'id="effective_from" name="effective_from" value="" type="date"' in delegations
    assert re.search(r'<div class="field"><label for="mode">下放方式</label>', delegations)


def test_revoking_without_a_date_says_so_in_chinese(client: Client) -> None:
    login(client, "admin")
    draft_id = int(send(client, "POST", f"{API}/drafts").json()["id"])
    revision = send(client, "GET", f"{API}/drafts/{draft_id}").json()["revision"]
    refused = client.post(
        f"{PAGES}/drafts/{draft_id}/items/X01/delegations/0/revoke",
        data={"effective_on": "", "reason": "试点结束", "revision": str(revision)},
        headers={"x-csrftoken": csrf(client), "accept": "text/html"},
        follow_redirects=False,
    )
    assert refused.status_code == 422
    assert "撤销生效日期应为 年-月-日 格式" in refused.text


def test_county_guide_page_shows_every_element_a_resident_needs(
    client: Client, demo_catalog: Catalog
) -> None:
    for item in demo_catalog.items:
        text = html.unescape(client.get(f"/items/{item.code}").text)
        expected = [item.name, item.contact.complaint_phone]
        expected += [m.name for m in item.materials]
        expected += [p.name for p in item.special_procedures]
        expected += [
            value
            for value in (
                item.codes.basic,
                item.result_name,
                item.fee.basis,
                item.contact.phone,
                item.contact.hours,
                item.promised.note if item.promised else "",
            )
            if value
        ]
        for value in expected:
            assert value in text, (item.code, value)
        assert "事项编码" not in text
    x09 = client.get("/items/X09").text
    assert "特别程序" in x09 and "不计入" in x09 and "约 7 天" in x09
    assert "Special procedures" in client.get("/items/X09", params={"lang": "en"}).text


@pytest.mark.parametrize("action", DRAFT_ACTIONS)
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_history_action_has_words(action: str, lang: str) -> None:
    text = audit_text(
        action, "v7" if action in ("draft_started", "published") else "X1", translator(lang)
    )
    # Worded, never the fallback that shows the raw code or a missing text's key.
    assert text != audit_text("no_such_action", "X1", translator(lang))
    assert "catalog.audit" not in text and "{" not in text and "v7" not in text
    if lang == "zh":
        assert action not in text
    assert "7" in text or "X1" in text or action in ("submitted", "discarded")


@given(subject=st.text(min_size=1, max_size=20).filter(lambda s: "{" not in s))
def test_review_comments_and_subjects_are_kept_whole(subject: str) -> None:
    t = translator("zh")
    assert subject in audit_text("returned", subject, t)
    assert subject in audit_text("item_changed", subject, t)
    # An action nobody has worded yet still shows its code rather than nothing.
    assert "new_action" in audit_text("new_action", subject, t)
