"""A county publishes a new item through its admin pages, and a township offers it after a sync.

A county and a township run as real processes (the township also runs its worker). In a real
browser the county administrator starts a catalog draft, enters a new item with every element,
delegates it to the township tier from today and submits the draft; the catalog reviewer, a
second person, approves it; the administrator publishes it. The township clerk presses
"立即同步": the desk shows the new catalog version, the intake list and the resident kiosk offer
the item, and the release the node stored carries the county's signature. Every step leaves a
screenshot in ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.calendar import china_date
from shared.delegation import DelegationMode, Tier
from sync.keys import load_private_key
from sync.releases import decode_release, open_release
from tests.browser.support import (
    CLERK,
    CLERK_PASSWORD,
    VIEWPORT,
    Hall,
    Shots,
    log_in,
    skip_without_browser,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
skip_without_browser()

ADMIN = "admin"
REVIEWER = "catalog"
COUNTY_PASSWORD = "县级-浏览器-2026"
CODE = "X20"
NAME = "农村宅基地使用权证补办"
DRAFTS = "/admin/catalog/drafts"


@pytest.fixture
def artifact_prefix() -> str:
    return "release"


@pytest.fixture
def county_hall(hall: Hall) -> Hall:
    """The hall with the two county accounts the catalog workflow needs."""
    hall.add_county_user(ADMIN, "县中心系统管理员", "admin", COUNTY_PASSWORD)
    hall.add_county_user(REVIEWER, "目录审核员", "catalog_reviewer", COUNTY_PASSWORD)
    return hall


@pytest.fixture
def contexts(browser: Any) -> Iterator[dict[str, Any]]:
    """One browser context per person: administrator, reviewer, clerk and a resident."""
    opened = {
        who: browser.new_context(viewport=VIEWPORT, locale="zh-CN")
        for who in ("admin", "reviewer", "clerk", "resident")
    }
    try:
        yield opened
    finally:
        for context in opened.values():
            context.close()


def test_published_item_reaches_the_township(county_hall: Hall, contexts: dict[str, Any]) -> None:
    pages = {who: context.new_page() for who, context in contexts.items()}
    shot = Shots(pages["admin"], county_hall.prefix)
    try:
        release_work(county_hall, pages, shot)
    except BaseException:
        for who, page in pages.items():
            if page.url != "about:blank":
                shot(f"failure-{who}", page)
        raise


def release_work(hall: Hall, pages: dict[str, Any], shot: Shots) -> None:
    county, node = hall.county_url, hall.township_url
    admin, reviewer, clerk, resident = (
        pages["admin"],
        pages["reviewer"],
        pages["clerk"],
        pages["resident"],
    )
    today = china_date(datetime.now(UTC))

    # Before: the township runs the release it got at enrollment and does not offer the item.
    log_in(clerk, node, CLERK, CLERK_PASSWORD, "/desk")
    version_before = desk_version(clerk)
    clerk.goto(f"{node}/window/new")
    assert NAME not in clerk.inner_text("main")

    # The administrator starts a draft from the catalog in force and opens the item form.
    log_in(admin, county, ADMIN, COUNTY_PASSWORD, "/admin/catalog")
    admin.click(f"form[action='{DRAFTS}'] button[type=submit]")
    admin.wait_for_url(re.compile(rf".*{DRAFTS}/\d+$"))
    draft_url = admin.url
    admin.click("a[href$='/items/new']")
    admin.wait_for_url(re.compile(r".*/items/new$"))
    fill_item(admin)
    shot("county-item-form")
    admin.click("form.item-form button[type=submit]")
    admin.wait_for_url(re.compile(rf".*/items/{CODE}\?done=saved$"))
    assert "已保存" in admin.inner_text("[role=status]")

    # Delegated to every township from today: received there, decided at the county.
    delegation = admin.locator("form[action$='/delegations']")
    delegation.locator("#mode").select_option(DelegationMode.WINDOW_FORWARD.value)
    delegation.locator("#tier").select_option(Tier.TOWNSHIP.value)
    delegation.locator("#effective_from").fill(today.isoformat())
    delegation.locator("#note").fill("乡镇便民服务中心收件，转县不动产登记中心办理")
    delegation.locator("button[type=submit]").click()
    admin.wait_for_url(re.compile(r".*done=delegated$"))
    rows = admin.locator("section.panel", has_text="下放").locator("tbody tr")
    assert rows.count() == 1
    assert "窗口前移" in rows.first.inner_text()
    assert today.isoformat() in rows.first.inner_text()
    shot("county-item-delegated")

    # The draft is clean and names the new item; the administrator submits it.
    admin.goto(draft_url)
    assert "目录和工作日历检查通过" in admin.inner_text("main")
    assert f"新增事项 {CODE} {NAME}" in admin.inner_text("main")
    admin.click("form[action$='/submit'] button[type=submit]")
    admin.wait_for_url(re.compile(r".*done=submit$"))
    # Whoever submitted may not review it.
    assert admin.locator("form[action$='/review']").count() == 0
    assert "须由另一位目录审核人员审核" in admin.inner_text("main")

    # The catalog reviewer approves.
    log_in(reviewer, county, REVIEWER, COUNTY_PASSWORD, "/admin/catalog")
    reviewer.goto(draft_url)
    review = reviewer.locator("form[action$='/review']")
    review.locator("#comment").fill("要素齐全，下放方式符合规定，同意发布。")
    review.locator("input[name=decision][value=approve]").check()
    shot("county-review", reviewer)
    review.locator("button[type=submit]").click()
    reviewer.wait_for_url(re.compile(r".*done=review$"))
    # A reviewer does not publish.
    assert reviewer.locator("form[action$='/publish']").count() == 0

    # The administrator publishes the approved draft as a signed release.
    admin.goto(draft_url)
    assert "审核意见（catalog）" in admin.inner_text("main")
    shot("county-publish")
    admin.click("form[action$='/publish'] button[type=submit]")
    admin.wait_for_url(re.compile(r".*done=publish$"))
    published = re.search(r"已发布为新版本（第 (\d+) 版）", admin.inner_text("[role=status]"))
    assert published is not None, admin.inner_text("[role=status]")
    version = int(published.group(1))
    assert version > version_before
    shot("county-published")
    admin.goto(f"{county}/admin/catalog/releases")
    assert str(version) in admin.inner_text("main")
    shot("county-releases")

    # The township clerk syncs now; the desk shows the county's new release.
    clerk.goto(f"{node}/desk")
    clerk.click("form.banner-sync button")
    clerk.wait_for_url(re.compile(r".*synced=1.*"))
    result = clerk.locator("[data-field=sync-result]").inner_text()
    assert "同步完成" in result, result
    assert desk_version(clerk) == version
    shot("node-desk-synced", clerk)

    # The intake list offers the item, received here and forwarded to the county.
    clerk.goto(f"{node}/window/new")
    assert f"事项目录第 {version} 版" in clerk.inner_text("main")
    row = clerk.locator("table.list tbody tr", has_text=NAME)
    assert row.count() == 1, clerk.inner_text("main")
    assert CODE in row.inner_text()
    assert "收件后转上级办理" in row.inner_text()
    shot("node-intake-list", clerk)
    row.locator("a.button").click()
    clerk.wait_for_url(re.compile(rf".*/window/new\?item={CODE}$"))
    assert NAME in clerk.inner_text("main")
    assert "遗失声明" in clerk.inner_text("main")
    shot("node-intake-form", clerk)

    # A resident at the kiosk finds it by name and reads its guide.
    resident.goto(f"{node}/kiosk?q=宅基地使用权证#guide")
    item = resident.locator("li.kiosk-item", has_text=NAME)
    assert item.count() == 1, resident.inner_text("main")
    assert "示范县不动产登记中心" in item.inner_text()
    shot("node-kiosk", resident)
    item.locator(f"a[href='/items/{CODE}?via=kiosk']").click()
    resident.wait_for_url(re.compile(rf".*/items/{CODE}\?via=kiosk$"))
    guide = resident.inner_text("main")
    assert NAME in guide
    assert "不动产登记申请书" in guide
    assert resident.locator("a[href='/kiosk']").count() >= 1  # the way back to the kiosk
    shot("node-guide", resident)

    assert_release_signed_by_county(hall, version)


def desk_version(page: Any) -> int:
    """The catalog version the node's desk shows."""
    text = page.locator("dt", has_text="事项目录版本").locator("xpath=following-sibling::dd[1]")
    return int(text.inner_text().strip())


def fill_item(page: Any) -> None:
    """Every element of the new item, as an administrator types it."""
    values = {
        "#code": CODE,
        "#name": NAME,
        "#code_basic": "0799002000",
        "#code_local": "SFX-BDC-020",
        "#statutory_days": "30",
        "#statutory_note": "自受理之日起30个工作日内办结",
        "#promised_days": "10",
        "#promised_note": "遗失声明公告期满后10个工作日内补发",
        "#extension_days": "0",
        "#warning_days": "2",
        "#legal_basis": "《不动产登记暂行条例》第二十条；《不动产登记暂行条例实施细则》第二十二条",
        "#conditions": "\n".join(
            (
                "宅基地使用权证书遗失或者损毁",
                "申请人为证载权利人或其合法继承人",
                "遗失的，已刊登遗失声明",
            )
        ),
        "#materials": "\n".join(
            (
                "M01|不动产登记申请书|original|required|applicant|1|0|",
                "M02|申请人身份证明|original_check|required|shared|0|0|数据共享获取，免交复印件",
                "M03|遗失声明或损毁的原证书|original|required|applicant|1|0|损毁的交回原证书",
                "M04|村民委员会出具的情况说明|original|optional|issued|1|0|",
            )
        ),
        "#special_procedures": (
            "遗失补证公告|publicity|否|《不动产登记暂行条例实施细则》第二十二条|15"
        ),
        "#service_objects": "1",
        "#result_name": "不动产权证书（宅基地使用权）",
        "#on_site_visits": "1",
        "#fee_basis": "《关于不动产登记收费标准等有关问题的通知》（发改价格规〔2016〕2559号）",
        "#fee_standard": "农村宅基地使用权登记不收登记费；补发证书每本收取工本费10元",
        "#address": "示范县政务服务中心（示范县人民路1号）不动产登记窗口",
        "#hours": "工作日 9:00—12:00，13:30—17:30",
        "#phone": "0000-6100105",
        "#complaint_phone": "12345",
        "#summary": "农村宅基地使用权证书遗失或者损毁的，由权利人申请补发。",
    }
    for selector, value in values.items():
        page.fill(selector, value)
    page.select_option("#item_type", "07")
    page.select_option("#lead_department", "bdc")
    page.select_option("#home_tier", Tier.COUNTY.value)
    page.select_option("#project_type", "promised")
    page.check("input[name=fee_charged]")


def assert_release_signed_by_county(hall: Hall, version: int) -> None:
    """The township stored the published version from the county, signed by the county's key."""
    county_key = load_private_key(hall.county_dir / "keys" / "county.key").public_key
    identity = json.loads((hall.township_dir / "node.json").read_text(encoding="utf-8"))
    assert identity["county_key"] == county_key.to_text()
    conn = sqlite3.connect(f"file:{hall.township_dir / 'node.sqlite'}?mode=ro", uri=True)
    try:
        row = conn.execute(
            "SELECT body, source FROM catalog_release WHERE version = ?", (version,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, f"the township holds no release {version}"
    assert row[1] == hall.county_url
    content = open_release(decode_release(row[0].encode()), county_key, current_version=None)
    item = content.catalog.item(CODE)
    assert item.name == NAME
    assert [(d.mode, d.tier) for d in item.delegations] == [
        (DelegationMode.WINDOW_FORWARD, Tier.TOWNSHIP)
    ]
