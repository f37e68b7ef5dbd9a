"""Both interface languages are complete."""

from __future__ import annotations

from web.i18n import LANGUAGES, message, message_keys, translator


def test_every_message_exists_in_every_language() -> None:
    from web import i18n

    for key in message_keys():
        entry = i18n._MESSAGES[key]
        assert set(entry) == set(LANGUAGES), key
        assert all(text.strip() for text in entry.values()), key


def test_unknown_key_shows_itself_and_chinese_is_default() -> None:
    assert translator("zh")("no.such.key") == "no.such.key"
    assert message("guide.title", "zh") == "办事指南"
    assert message("guide.title", "en") == "Service guide"


def test_added_messages_are_checked_and_translated() -> None:
    import pytest

    from web.i18n import add_messages

    add_messages({"test.i18n.added": {"zh": "已添加", "en": "Added"}})
    assert message("test.i18n.added", "en") == "Added"
    add_messages({"test.i18n.added": {"zh": "已添加", "en": "Added"}})  # same text again is fine
    with pytest.raises(ValueError, match="twice"):
        add_messages({"test.i18n.added": {"zh": "另一个", "en": "Other"}})
    with pytest.raises(ValueError, match="zh and en"):
        add_messages({"test.i18n.half": {"zh": "只有中文"}})
