"""The config layer: from_mapping's checks, read_yaml / read_json, and the configs built on it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cgclip.errors import UserError
from cgclip.io.config import (
    Interval,
    check_fields,
    choice,
    from_mapping,
    num,
    read_json,
    read_yaml,
)


@dataclass(frozen=True)
class Inner:
    size: tuple[int, int] = (4, 2)
    scale: float = num(1.0, "(0, inf)")


@dataclass(frozen=True)
class Settings:
    gate: float = num(0.4, "[0, 2]")
    window: int = num(8, "[1, inf)")
    box: str = choice("detection", ("detection", "kalman"))
    flag: bool = False
    parts: tuple[str, ...] = ("f",)
    label: str | None = None
    extra: dict = field(default_factory=dict)
    inner: Inner = field(default_factory=Inner)

    def __post_init__(self) -> None:
        check_fields(self, "settings")
        if self.window > 100 and self.flag:
            raise UserError("window > 100 needs flag off")


def test_interval_notation() -> None:
    closed, open_hi = Interval.parse("[0, 1]"), Interval.parse("[1, inf)")
    assert 0 in closed and 1 in closed and 1.01 not in closed
    assert 1 in open_hi and 10**9 in open_hi and 0.5 not in open_hi
    assert 0 not in Interval.parse("(0, 2]") and str(Interval.parse("(0, inf)")) == "(0, inf)"


def test_from_mapping_builds_and_coerces() -> None:
    s = from_mapping(
        Settings,
        {"gate": 1, "window": 3.0, "parts": ["f", "v"], "inner": {"size": [8, 4], "scale": "1e-4"}},
        "x.yaml",
    )
    assert s.gate == 1.0 and isinstance(s.gate, float) and s.window == 3
    assert s.parts == ("f", "v") and s.inner == Inner(size=(8, 4), scale=1e-4)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ({"gate": float("nan")}, "x.yaml: gate must be a finite number"),
        ({"gate": float("inf")}, "x.yaml: gate must be a finite number"),
        ({"gate": -3}, "x.yaml: gate must be a finite number in [0, 2], got -3.0"),
        ({"window": 0}, "window must be a finite number in [1, inf)"),
        ({"window": 2.5}, "window must be a whole number"),
        ({"window": True}, "window must be a whole number"),
        ({"gate": "wide"}, "gate must be a number"),
        ({"box": "smooth"}, "box must be one of detection, kalman"),
        ({"flag": "yes"}, "flag must be true or false"),
        ({"inner": {"scale": 0}}, "inner.scale must be a finite number in (0, inf)"),
        ({"inner": {"size": [1, 2, 3]}}, "inner.size must be a list of 2 values"),
        ({"inner": {"bogus": 1}}, "unknown setting(s) inner.bogus"),
        ({"gaet": 1}, "unknown setting(s) gaet; valid keys: box, extra, flag, gate"),
        ({"window": 200, "flag": True}, "x.yaml: window > 100 needs flag off"),
        ([1, 2], "x.yaml: the config must be a mapping"),
    ],
)
def test_from_mapping_errors_name_the_file_and_field(data, needle: str) -> None:
    with pytest.raises(UserError) as err:
        from_mapping(Settings, data, "x.yaml")
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(UserError, match="settings: gate must be a finite number"):
        Settings(gate=float("nan"))


def test_read_yaml(tmp_path: Path) -> None:
    good = tmp_path / "a.yaml"
    good.write_text("gate: 0.5\n")
    assert read_yaml(good) == {"gate": 0.5}
    bad = tmp_path / "b.yaml"
    bad.write_text("gate: [\n")
    with pytest.raises(UserError, match=r"b.yaml: not valid YAML"):
        read_yaml(bad)
    with pytest.raises(UserError, match="c.yaml: tracker config not found"):
        read_yaml(tmp_path / "c.yaml", "tracker config")
    evil = tmp_path / "evil.yaml"
    evil.write_text("!!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(UserError, match="not valid YAML"):
        read_yaml(evil)


def test_read_json_checks_format_and_version(tmp_path: Path) -> None:
    p = tmp_path / "index.json"
    p.write_text(json.dumps({"format": "thing", "version": 1, "x": 2}))
    assert read_json(p, "thing", 1)["x"] == 2
    with pytest.raises(UserError, match=r'index.json: not a thing index \(no "format": "other"\)'):
        read_json(p, "other", 1, what="thing index")
    with pytest.raises(
        UserError, match="index.json: thing index version 1, this cgclip reads version 2; rebuild"
    ):
        read_json(p, "thing", 2, what="thing index", hint="rebuild")
    p.write_text("{")
    with pytest.raises(UserError, match="not valid JSON"):
        read_json(p)


def test_number_arg_parses_within_limits_and_rejects_the_rest() -> None:
    import argparse

    from cgclip.io.config import number_arg

    rate, count = number_arg("[0, 1]"), number_arg("[1, 65535]", int)
    assert rate("0.25") == 0.25 and rate("1e-3") == 1e-3 and count("8080") == 8080
    assert isinstance(count("3"), int)
    for parse, text in [(rate, "nan"), (rate, "-inf"), (rate, "1.5"), (rate, "x"), (count, "0")]:
        with pytest.raises(argparse.ArgumentTypeError, match=f"got '{text}'"):
            parse(text)
