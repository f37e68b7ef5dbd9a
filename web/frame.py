"""The pieces every tongban web app is assembled from: templates, static files, error handlers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from os import PathLike
from pathlib import Path
from typing import Any

from litestar import Litestar, Router
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from litestar.types import ControllerRouterHandler, Middleware

from shared.version import VERSION
from web.local_time import register_filters
from web.problems import EXCEPTION_HANDLERS

WEB_DIR = Path(__file__).parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def service_app(
    *,
    site_name: str,
    tier: str,
    route_handlers: Sequence[ControllerRouterHandler],
    services: Mapping[str, object],
    lifespan: Callable[[Litestar], AbstractAsyncContextManager[None]],
    debug: bool,
    templates: Path | None = None,
    middleware: Sequence[Middleware] = (),
    csrf_config: CSRFConfig | None = None,
    exception_handlers: Mapping[type[Exception] | int, Any] | None = None,
) -> Litestar:
    """A tongban web app: our error shapes, page frame, static files and OpenAPI at /schema.

    Args:
        site_name: the service point's name, shown on every page and in the API title.
        tier: ``county``, ``township`` or ``community``.
        route_handlers: the app's own handlers.
        services: objects handlers receive by parameter name (one instance per app).
        lifespan: opens and closes the app's storage.
        debug: show tracebacks (never in production).
        templates: the app's own template directory, searched before the common frame.
        middleware: app-wide middleware (outermost first), e.g. the one that loads the user.
        csrf_config: CSRF protection for every unsafe request not excluded by it.
        exception_handlers: handlers for the app's own error kinds, on top of the common ones.
    """
    return Litestar(
        route_handlers=[*route_handlers, static_router()],
        dependencies={
            name: Provide(_constant(service), sync_to_thread=False)
            for name, service in services.items()
        },
        lifespan=[lifespan],
        middleware=list(middleware),
        csrf_config=csrf_config,
        exception_handlers={**EXCEPTION_HANDLERS, **(exception_handlers or {})},
        template_config=template_config(templates),
        openapi_config=openapi_config(f"通办 {site_name} API", VERSION),
        state=State({"site_name": site_name, "tier": tier, "version": VERSION}),
        debug=debug,
    )


def _constant(value: object) -> Callable[[], object]:
    def provide() -> object:
        return value

    return provide


def template_config(app_templates: Path | None = None) -> TemplateConfig[JinjaTemplateEngine]:
    """Jinja templates: the app's own directory first, then the common frame and filters."""
    directories: list[Path | PathLike[Any] | str] = [TEMPLATE_DIR]
    if app_templates is not None:
        directories.insert(0, app_templates)
    return TemplateConfig(
        directory=directories, engine=JinjaTemplateEngine, engine_callback=register_filters
    )


def static_router() -> Router:
    """``/static``: the project's own stylesheet and scripts (nothing third-party is vendored)."""
    return create_static_files_router(path="/static", directories=[STATIC_DIR])


def openapi_config(title: str, version: str) -> OpenAPIConfig:
    """OpenAPI schema at ``/schema`` (JSON at ``/schema/openapi.json``)."""
    return OpenAPIConfig(
        title=title,
        version=version,
        path="/schema",
        render_plugins=[SwaggerRenderPlugin()],
    )
