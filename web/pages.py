"""Rendering a page: the context every template needs, and the language cookie."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import Cookie
from litestar.response import Template

from web.i18n import LANG_COOKIE, language_of, translator

PAGE_EXTRAS = "page_extras"
"""App-state key of an optional ``(request) -> dict`` hook adding to every page's context."""


def page_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """Context every page needs: language, translations, and the site's name and tier.

    ``site_name``, ``tier`` and ``version`` are put in the app state by each app factory, and so
    is the optional :data:`PAGE_EXTRAS` hook.
    """
    lang = language_of(request)
    state = request.app.state
    t = translator(lang)
    context = {
        "lang": lang,
        "t": t,
        "site_name": state.get("site_name", ""),
        "tier_label": t(f"tier.{state.get('tier', 'county')}"),
        "version": state.get("version", ""),
    }
    # An app may add to every page (a node: its offline status banner for staff).
    extras = state.get(PAGE_EXTRAS)
    if callable(extras):
        context.update(extras(request))
    return context


def page(request: Request[Any, Any, Any], template_name: str, **context: Any) -> Template:
    """Render a page; remember a language picked with ``?lang=`` in a cookie."""
    cookies = []
    asked = request.query_params.get("lang")
    if asked and asked == language_of(request):
        cookies.append(Cookie(key=LANG_COOKIE, value=asked, max_age=365 * 86400, samesite="lax"))
    return Template(
        template_name=template_name,
        context={**page_context(request), **context},
        cookies=cookies,
    )
