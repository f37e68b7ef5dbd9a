"""County settings from the environment: every value checked, with a message naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.settings import CentralSettings
from shared.errors import InvalidError


def test_projection_helpers_default_to_the_machine() -> None:
    assert CentralSettings.from_env({}).projection_helpers is None


@pytest.mark.parametrize(("text", "count"), [("0", 0), ("2", 2), ("64", 64)])
def test_projection_helpers_can_be_set(text: str, count: int) -> None:
    settings = CentralSettings.from_env({"CENTRAL_PROJECTION_HELPERS": text})
    assert settings.projection_helpers == count


@pytest.mark.parametrize("text", ["-1", "two", "65", "1.5"])
def test_a_bad_projection_helper_count_is_refused_by_name(text: str) -> None:
    with pytest.raises(InvalidError, match="CENTRAL_PROJECTION_HELPERS"):
        CentralSettings.from_env({"CENTRAL_PROJECTION_HELPERS": text})


def test_overrides_win_over_the_environment(tmp_path: Path) -> None:
    settings = CentralSettings.from_env(
        {"CENTRAL_PROJECTION_HELPERS": "3"}, data_dir=tmp_path, projection_helpers=0
    )
    assert settings.projection_helpers == 0 and settings.data_dir == tmp_path
