"""Tracker settings: every field checked (finite, in range, one line naming file and field)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cgclip.errors import UserError
from tracker import Tracker
from tracker.config import TrackerConfig, load_preset, preset_names, read_config_yaml


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("appearance_gate: .nan\n", "appearance_gate must be a finite number"),
        ("reid_thresh: -3\n", "reid_thresh must be a finite number in [0, 2], got -3.0"),
        ("max_time_lost: -1\n", "max_time_lost must be a finite number in [0, inf)"),
        ("std_position: .inf\n", "std_position must be a finite number"),
        ("min_hits: 0\n", "min_hits must be a finite number in [1, inf)"),
        ("- 1\n- 2\n", "must be a mapping of settings"),
    ],
)
def test_config_file_with_numbers_that_make_no_sense(
    tmp_path: Path, text: str, needle: str
) -> None:
    path = tmp_path / "my.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as err:
        read_config_yaml(path)
    assert str(err.value).startswith(f"{path}: ") and needle in str(err.value)


def test_every_preset_is_valid_and_overrides_are_checked() -> None:
    for name in preset_names():
        assert isinstance(load_preset(name), TrackerConfig)
    with pytest.raises(UserError, match="appearance_weight must be a finite number in"):
        load_preset("default", appearance_weight=float("nan"))
    with pytest.raises(UserError, match="reid_thresh must be a finite number in"):
        TrackerConfig(reid_thresh=-3.0)
    assert load_preset("default").replace(min_hits=5).min_hits == 5


@pytest.mark.parametrize("name", ["../../x/evil", "/etc/passwd", "sports/../dance", "..", ""])
def test_preset_names_are_names_never_paths(tmp_path: Path, name: str) -> None:
    with pytest.raises(UserError, match="is not a preset name"):
        Tracker.from_preset(name)


def test_presets_are_package_data_not_repository_files() -> None:
    # The presets ship inside the `tracker` package (the wheel test installs it elsewhere).
    import tracker

    assert {"default", "sports", "dance"} <= set(preset_names())
    package = Path(tracker.__file__).parent
    assert all((package / "presets" / f"{name}.yaml").is_file() for name in preset_names())
    assert load_preset("sports") != load_preset("dance")
