"""A clerk at a township window with the county unreachable, in a real browser.

A county and a township run as real processes (the township also runs its worker). The county is
stopped; a clerk logs in, issues a one-time correction notice for an application missing a
material, accepts a complete one, prints its receipt and decides it. The county is started again,
the clerk presses "立即同步", and the decided case is at the county. Every step leaves a
screenshot in ``test-artifacts/screenshots/``.

Playwright (from PyPI) drives Debian's chromium (``/usr/bin/chromium``); no browser is
downloaded. Without chromium the test is skipped, unless ``TONGBAN_TEST_REQUIRE_BROWSER`` is set.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from tests.browser.support import (
    CLERK,
    CLERK_PASSWORD,
    VIEWPORT,
    Hall,
    Shots,
    skip_without_browser,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]
skip_without_browser()


@pytest.fixture
def artifact_prefix() -> str:
    return "offline"


def fill_application(
    page: Any, base: str, *, name: str, id_number: str, all_materials: bool
) -> None:
    page.goto(f"{base}/window/new?item=X05")
    page.fill("input[name=name]", name)
    page.fill("input[name=id_number]", id_number)
    page.fill("input[name=phone]", "13800000000")
    boxes = page.locator("input[name=materials]")
    for index in range(boxes.count()):
        box = boxes.nth(index)
        if all_materials or index > 0:
            box.check()
        else:
            box.uncheck()


def test_clerk_works_offline_and_the_case_reaches_the_county(hall: Hall, browser: Any) -> None:
    context = browser.new_context(viewport=VIEWPORT, locale="zh-CN")
    page = context.new_page()
    shot = Shots(page, hall.prefix)
    try:
        window_work(hall, page, shot)
    except BaseException:
        shot("failure")  # what the clerk saw when it went wrong
        raise
    finally:
        context.close()


def window_work(hall: Hall, page: Any, shot: Shots) -> None:
    base = hall.township_url
    hall.stop_county()

    # Log in; the banner says the county cannot be reached once a sync has been tried.
    page.goto(f"{base}/login")
    page.fill("#username", CLERK)
    page.fill("#password", CLERK_PASSWORD)
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(re.compile(r".*/desk.*"))
    page.click("form.banner-sync button")
    page.wait_for_url(re.compile(r".*synced=1.*"))
    banner = page.locator("[data-banner=status]")
    assert "无法连接" in banner.inner_text()
    assert "同步未成功" in banner.inner_text()
    shot("desk-offline")

    # An application missing a required material: a one-time correction notice.
    fill_application(page, base, name="王秀英", id_number="110101194501011230", all_materials=False)
    page.check("input[name=decision][value=correction]")
    shot("correction-form")
    page.click("button.wide[type=submit]")
    page.wait_for_url(re.compile(r".*/window/done/.*"))
    assert "一次性告知" in page.inner_text("main") or "补正" in page.inner_text("main")
    shot("correction-result")
    correction_link = page.locator("a.button", has_text="告知")
    if correction_link.count():
        notice = page.context.new_page()
        notice.goto(base + correction_link.first.get_attribute("href"))
        assert "告知" in notice.inner_text("body")
        shot("correction-notice", notice)
        notice.close()

    # A complete application: accepted, with a receipt number and a query code.
    fill_application(page, base, name="张建国", id_number="110105198003120024", all_materials=True)
    page.check("input[name=decision][value=accept]")
    page.click("button.wide[type=submit]")
    page.wait_for_url(re.compile(r".*/window/done/.*"))
    case_id = page.url.rsplit("/", 1)[1].split("?")[0]
    receipt_no = page.locator("strong.code").first.inner_text()
    assert re.fullmatch(r"SFZ-\d{8}-\d{4}-[0-9A-Z]", receipt_no), receipt_no
    shot("accepted")

    # Print the receipt: the print page renders, on A4 in print media.
    links = page.locator("ul.doc-links a")
    assert links.count() >= 1
    printed = page.context.new_page()
    printed.goto(base + links.first.get_attribute("href"))
    printed.emulate_media(media="print")
    assert receipt_no in printed.inner_text("body")
    shot("receipt-print", printed)
    printed.close()

    # Decide it on the case page.
    page.goto(f"{base}/cases/{case_id}")
    shot("case-before-decision")
    decide = page.locator("details.action", has=page.locator("summary", has_text="作出决定"))
    assert decide.count() == 1, page.inner_text("#actions")
    decide.locator("summary").click()
    decide.locator("input[name=outcome][value=approve]").check()
    reason = decide.locator("textarea[name=reason]")
    if reason.count():
        reason.fill("材料齐全，符合条件，准予办理。")
    decide.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*done=.*"))
    shot("decided")
    assert "审批通过" in page.inner_text("main") or "准予" in page.inner_text("main")

    # The reminders page opens from the banner; fresh cases call for none yet.
    page.click("a.reminders-link")
    page.wait_for_url(re.compile(r".*/reminders$"))
    assert page.locator("[data-field=no-reminders]").count() == 1
    shot("reminders")
    page.goto(f"{base}/cases/{case_id}")

    # Records are waiting; the county comes back; "sync now" sends them up.
    waiting = page.locator("[data-field=banner-waiting] strong").inner_text()
    assert int(waiting) >= 2
    hall.start_county()
    page.click("form.banner-sync button")
    page.wait_for_url(re.compile(r".*synced=1.*"))
    banner = page.locator("[data-banner=status]")
    assert "同步完成" in banner.inner_text(), banner.inner_text()
    assert page.locator("[data-field=banner-waiting] strong").inner_text() == "0"
    shot("synced")

    hall.stop_county()
    conn = sqlite3.connect(hall.county_dir / "central.sqlite")
    try:
        row = conn.execute(
            "SELECT status, receipt_no FROM case_row WHERE case_id = ?", (case_id,)
        ).fetchone()
    finally:
        conn.close()
    assert row is not None, "the case did not reach the county"
    assert row[1] == receipt_no
    assert row[0] in {"approved", "decided"}, row
