"""Times on pages: every instant is shown in China time, whatever the server's clock zone.

Both apps store instants in UTC; a hall clerk or a county administrator reads them as Beijing
time. Templates use the ``china_time`` filter so the county and the nodes format alike.
"""

from __future__ import annotations

from datetime import UTC, datetime

from litestar.plugins.jinja import JinjaTemplateEngine

from shared.calendar import CHINA_TZ

MINUTES = "%Y-%m-%d %H:%M"
SECONDS = "%Y-%m-%d %H:%M:%S"


def china_time(moment: datetime | None, seconds: bool = False) -> str:
    """``moment`` as Beijing wall-clock time, "" for None.

    A naive value is taken as UTC: some database drivers drop the zone of a stored UTC
    instant, and reading it as local time would shift it by eight hours.
    """
    if moment is None:
        return ""
    if moment.utcoffset() is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(CHINA_TZ).strftime(SECONDS if seconds else MINUTES)


def register_filters(engine: JinjaTemplateEngine) -> None:
    """Make the shared filters available to every template of an app."""
    engine.engine.filters["china_time"] = china_time
