"""One error shape: RFC 9457 problem details for APIs, a Chinese page for browsers."""

from __future__ import annotations

import pytest
from litestar import get
from litestar.params import FromQuery
from litestar.testing import create_test_client

from shared import errors
from web.frame import template_config
from web.problems import EXCEPTION_HANDLERS

KINDS = [
    (errors.InvalidError("坏输入"), 400, "invalid"),
    (errors.ValidationError(["问题一", "问题二"]), 422, "validation_failed"),
    (errors.NotFoundError("没有"), 404, "not_found"),
    (errors.ConflictError("冲突"), 409, "conflict"),
    (errors.AuthenticationError("谁"), 401, "unauthenticated"),
    (errors.PermissionDeniedError("不行"), 403, "forbidden"),
    (errors.SignatureInvalidError("签名坏"), 422, "signature_invalid"),
    (errors.UnavailableError("稍后"), 503, "unavailable"),
    (RuntimeError("secret internals"), 500, "internal_error"),
]


def client_raising(exc: Exception):  # type: ignore[no-untyped-def]
    @get("/api/v1/boom")
    async def api_boom() -> None:
        raise exc

    @get("/boom")
    async def page_boom() -> None:
        raise exc

    @get("/api/v1/count")
    async def count(n: FromQuery[int]) -> int:
        return n

    return create_test_client(
        [api_boom, page_boom, count],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=template_config(),
    )


@pytest.mark.parametrize(("exc", "status", "code"), KINDS, ids=[k[2] for k in KINDS])
def test_api_errors_are_problem_details(exc: Exception, status: int, code: str) -> None:
    with client_raising(exc) as client:
        response = client.get("/api/v1/boom")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code", "instance"} <= body.keys()
    assert (body["status"], body["code"], body["instance"]) == (status, code, "/api/v1/boom")
    assert "secret internals" not in response.text
    if code == "validation_failed":
        assert body["problems"] == ["问题一", "问题二"]


@pytest.mark.parametrize(("exc", "status", "code"), KINDS, ids=[k[2] for k in KINDS])
def test_page_errors_are_chinese_pages(exc: Exception, status: int, code: str) -> None:
    with client_raising(exc) as client:
        response = client.get("/boom", headers={"accept": "text/html"})
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert f"错误代码：{code}" in response.text
    assert "返回首页" in response.text
    assert "secret internals" not in response.text


def test_bad_query_parameter_is_a_problem_naming_the_field() -> None:
    with client_raising(RuntimeError()) as client:
        response = client.get("/api/v1/count", params={"n": "abc"})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_request"
    assert any("n" in p for p in body["problems"])


def test_unknown_route_is_a_chinese_404() -> None:
    with client_raising(RuntimeError()) as client:
        api = client.get("/api/v1/nothing")
        page = client.get("/nothing", headers={"accept": "text/html"})
    assert api.json()["title"] == "未找到"
    assert "未找到" in page.text and "Not Found" not in page.text
