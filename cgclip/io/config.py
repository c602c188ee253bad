"""One config and file-reading layer: mapping -> dataclass with checks, YAML and versioned JSON.

A config is a dataclass whose fields declare their own limits once, next to their defaults::

    @dataclass(frozen=True)
    class Settings:
        gate: float = num(0.4, "[0, 2]")  # a closed interval; "(0, inf)" means > 0
        window: int = num(8, "[1, inf)")
        box: str = choice("detection", ("detection", "kalman"))
        name: str = "x"  # fields without limits are only type-checked

        def __post_init__(self) -> None:
            check_fields(self, "settings")  # direct construction is checked too

:func:`from_mapping` builds one from a parsed YAML/JSON mapping (nested dataclasses from nested
mappings): unknown keys, wrong types, non-finite numbers (NaN, inf) and values out of range are a
one-line :class:`UserError` naming ``where`` (usually the file) and the field (``optim.lr``).
:func:`read_yaml` and :func:`read_json` read files with the same one-line errors; ``read_json``
also checks a ``format`` name and ``version`` number.

Command-line numbers use the same limits through :func:`number_arg`, an argparse ``type=``::

    p.add_argument("--conf", type=number_arg("[0, 1]"), default=0.1)
    p.add_argument("--batch", type=number_arg("[1, inf)", int), default=8)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from cgclip.errors import UserError

T = TypeVar("T")
_MISSING = dataclasses.MISSING
_INTERVAL = re.compile(r"^\s*([\[(])\s*([^,\s]+)\s*,\s*([^\]\s)]+)\s*([\])])\s*$")


@dataclasses.dataclass(frozen=True)
class Interval:
    """A numeric range in interval notation: ``"[0, 1]"``, ``"(0, inf)"``, ``"[1, inf)"``."""

    lo: float
    hi: float
    lo_closed: bool
    hi_closed: bool

    @classmethod
    def parse(cls, text: str) -> Interval:
        m = _INTERVAL.match(text)
        if not m:
            raise ValueError(f"not an interval: {text!r} (write e.g. '[0, 1]' or '(0, inf)')")
        return cls(float(m[2]), float(m[3]), m[1] == "[", m[4] == "]")

    def __contains__(self, x: float) -> bool:
        above = x >= self.lo if self.lo_closed else x > self.lo
        below = x <= self.hi if self.hi_closed else x < self.hi
        return above and below

    def __str__(self) -> str:
        def fmt(v: float) -> str:
            return "inf" if math.isinf(v) else f"{v:g}"

        return (
            f"{'[' if self.lo_closed else '('}{fmt(self.lo)}, {fmt(self.hi)}"
            f"{']' if self.hi_closed else ')'}"
        )


def num(default: Any, interval: str, **kwargs: Any) -> Any:
    """A numeric dataclass field whose value must be finite and inside ``interval``."""
    return dataclasses.field(
        default=default, metadata={"range": Interval.parse(interval)}, **kwargs
    )


def number_arg(interval: str, kind: type = float) -> Any:
    """An argparse ``type=`` for a number (``int`` or ``float``) that must be finite and inside
    ``interval``; a bad value is argparse's one error line naming the option (exit status 2)."""
    import argparse

    limits = Interval.parse(interval)
    what = "a whole number" if kind is int else "a finite number"

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {what} in {limits}, got {text!r}") from None
        if not math.isfinite(value) or value not in limits:
            raise argparse.ArgumentTypeError(f"must be {what} in {limits}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in some messages
    return parse


def choice(default: Any, options: tuple[Any, ...], **kwargs: Any) -> Any:
    """A dataclass field whose value must be one of ``options``."""
    return dataclasses.field(default=default, metadata={"choices": tuple(options)}, **kwargs)


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass ``cls`` from ``data`` (a mapping), checking keys, types and limits.

    ``where`` names the source (a file, ``--config X``) in every error. Nested dataclass fields
    take nested mappings (or instances). Numbers are coerced to the field's type where exact
    (``2`` -> ``2.0``; ``"1e-4"`` -> ``1e-4``, since YAML reads that as a string).
    """
    return _build(cls, data, where, "")


def check_mapping(cls: type, data: Any, where: str) -> dict[str, Any]:
    """The keys and values of a *partial* ``data`` checked (and coerced) one by one, as in
    :func:`from_mapping`, without building ``cls`` (for overrides applied over a preset)."""
    return _checked(cls, data, where, "")


def _build(cls: type[T], data: Any, where: str, prefix: str) -> T:
    if isinstance(data, cls):
        return data
    kwargs = _checked(cls, data, where, prefix)
    try:
        return cls(**kwargs)
    except UserError as err:  # cross-field checks in __post_init__: say which file
        message = str(err)
        raise UserError(message if message.startswith(where) else f"{where}: {message}") from None


def _checked(cls: type, data: Any, where: str, prefix: str) -> dict[str, Any]:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        what = f"'{prefix[:-1]}'" if prefix else "the config"
        raise UserError(f"{where}: {what} must be a mapping of settings, got {_show(data)}")
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(str(k) for k in set(data) - set(known))
    if unknown:
        raise UserError(
            f"{where}: unknown setting(s) {', '.join(prefix + k for k in unknown)}; valid keys"
            f"{' in ' + repr(prefix[:-1]) if prefix else ''}: {', '.join(sorted(known))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in data.items():
        f = known[key]
        kwargs[key] = _check_value(f, hints[key], value, where, prefix + key)
    return kwargs


def check_fields(obj: Any, where: str) -> None:
    """Check the declared limits (type, finiteness, range, choices) of a dataclass instance."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        _check_value(f, hints[f.name], getattr(obj, f.name), where, f.name)


def _check_value(f: dataclasses.Field, tp: Any, value: Any, where: str, path: str) -> Any:
    value = _coerce(tp, value, where, path)
    if value is None:
        return value
    interval = f.metadata.get("range")
    if (
        isinstance(value, float)
        and not math.isfinite(value)
        or (interval is not None and value not in interval)
    ):
        within = f" in {interval}" if interval is not None else ""
        raise UserError(f"{where}: {path} must be a finite number{within}, got {value!r}")
    options = f.metadata.get("choices")
    if options is not None and value not in options:
        raise UserError(
            f"{where}: {path} must be one of {', '.join(map(str, options))}, got {value!r}"
        )
    return value


def _coerce(tp: Any, value: Any, where: str, path: str) -> Any:
    """``value`` as type ``tp`` (bool, int, float, str, tuples, dicts, dataclasses, X | None)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _coerce(inner[0], value, where, path)
        return value  # a real union: leave it to the dataclass
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where, path + ".")
    if tp is Any:
        return value

    def bad(expected: str) -> UserError:
        return UserError(f"{where}: {path} must be {expected}, got {_show(value)}")

    if tp is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if tp is int:
        if isinstance(value, bool):
            raise bad("a whole number")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, int):
            raise bad("a whole number")
        return value
    if tp is float:
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise bad("a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)  # finiteness: checked in _check_value, with the range
    if tp is str:
        if not isinstance(value, str):
            raise bad("a string")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise bad("a list")
        if len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],) * len(value)
        elif len(value) != len(args):
            raise bad(f"a list of {len(args)} values")
        out = tuple(_coerce(a, v, where, path) for a, v in zip(args, value, strict=True))
        if any(isinstance(v, float) and not math.isfinite(v) for v in out):
            raise bad("a list of finite numbers")
        return out
    if origin is dict or tp is dict:
        if not isinstance(value, Mapping):
            raise bad("a mapping")
        return dict(value)
    return value


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _first_line(err: Exception) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def read_yaml(path: str | os.PathLike[str], what: str = "config") -> Any:
    """Parse a YAML file (``safe_load``: no Python objects); one-line errors name the file."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: {what} not found" + (" (it is a folder)" if p.is_dir() else ""))
    try:
        return yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserError(f"{p}: not valid YAML ({_first_line(err)})") from None


def read_json(
    path: str | os.PathLike[str],
    format: str | None = None,
    version: int | None = None,
    *,
    what: str = "file",
    hint: str = "",
) -> Any:
    """Parse a JSON file; with ``format``/``version``, check its ``"format"`` and ``"version"``.

    ``what`` names the kind of file ("caption file", "VReID index"), ``hint`` says how to make a
    good one; both go into every error.
    """
    p = Path(path)
    tail = f"; {hint}" if hint else ""
    if not p.is_file():
        raise UserError(f"{p}: {what} not found{tail}")
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise UserError(f"{p}: not valid JSON ({_first_line(err)}){tail}") from None
    if format is None and version is None:
        return data
    if not isinstance(data, dict) or data.get("format") != format:
        raise UserError(f'{p}: not a {what} (no "format": "{format}"){tail}')
    if data.get("version") != version:
        raise UserError(
            f"{p}: {what} version {data.get('version')!r}, this cgclip reads version {version}"
            f"{tail}"
        )
    return data
