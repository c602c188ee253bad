"""MOTChallenge files: ``gt.txt`` / ``det.txt`` / result txt, ``seqinfo.ini`` and seqmaps.

All three txt kinds share one row layout of 10 columns::

    frame, id, x, y, w, h, conf, c8, c9, c10

- gt:      frame, id, x, y, w, h, consider(0/1), class, visibility       (1-based frames)
- det:     frame, -1, x, y, w, h, conf, -1, -1, -1
- results: frame, id, x, y, w, h, conf, -1, -1, -1

Readers accept commas or whitespace, pad short rows (at least the 6 box columns are required) and
reject malformed rows with a :class:`~cgclip.errors.UserError` naming the file and line.

This module is the only place that turns rows into boxes and back (:func:`rows_to_xyxy`,
:func:`xyxy_to_rows`) and that finds sequence folders (:func:`find_sequences`,
:func:`split_folder`); the tracker, the evaluation, the dataset builders and the benchmarks call it.
"""

from __future__ import annotations

import configparser
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_write_text

MOT_COLUMNS = 10
# No video is a million pixels across: a box coordinate beyond this is a broken file (and 1e39
# would overflow the float32 boxes downstream).
MAX_COORD = 1e6
# Default values for columns 7..10 when a row is shorter than 10 columns, per kind.
_PAD = {
    "gt": (1.0, 1.0, 1.0, -1.0),
    "det": (1.0, -1.0, -1.0, -1.0),
    "results": (1.0, -1.0, -1.0, -1.0),
}


def read_mot(path: str | os.PathLike[str], kind: str = "det") -> np.ndarray:
    """Read a MOTChallenge txt file into an ``(N, 10)`` float64 array sorted by frame then id.

    ``kind`` is ``"gt"``, ``"det"`` or ``"results"``; it only chooses the padding of short rows.
    An existing empty file is valid (a sequence with no boxes) and gives an ``(0, 10)`` array.
    """
    if kind not in _PAD:
        raise ValueError(f"kind must be one of {sorted(_PAD)}, got {kind!r}")
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: MOT file not found; give the path to a MOTChallenge {kind} txt file")
    rows: list[list[float]] = []
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise UserError(
            f"{p}: not a text file ({err.reason}); expected MOTChallenge {kind} rows"
        ) from None
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rows.append(_parse_row(line, p, lineno, kind))
    if not rows:
        return np.zeros((0, MOT_COLUMNS), dtype=np.float64)
    arr = np.asarray(rows, dtype=np.float64)
    order = np.lexsort((arr[:, 1], arr[:, 0]))
    return arr[order]


def _parse_row(line: str, path: Path, lineno: int, kind: str) -> list[float]:
    parts = [t for t in line.replace(",", " ").split() if t]
    where = f"{path}:{lineno}"
    if len(parts) < 6:
        raise UserError(
            f"{where}: expected at least 6 comma-separated values (frame, id, x, y, w, h), "
            f"got {len(parts)}: {line[:80]!r}"
        )
    if len(parts) > MOT_COLUMNS:
        raise UserError(f"{where}: expected at most {MOT_COLUMNS} values, got {len(parts)}")
    try:
        values = [float(t) for t in parts]
    except ValueError:
        bad = next(t for t in parts if not _is_float(t))
        raise UserError(f"{where}: {bad!r} is not a number") from None
    if not all(math.isfinite(v) for v in values):
        raise UserError(f"{where}: values must be finite numbers, got {line[:80]!r}")
    frame, _tid, _x, _y, w, h = values[:6]
    if max(abs(v) for v in values[2:6]) > MAX_COORD:
        raise UserError(
            f"{where}: box values must be within +-{MAX_COORD:g} pixels, got "
            f"x={parts[2]} y={parts[3]} w={parts[4]} h={parts[5]}"
        )
    if frame < 1 or frame != int(frame):
        raise UserError(f"{where}: frame must be a positive whole number (1-based), got {parts[0]}")
    if w <= 0 or h <= 0:
        raise UserError(
            f"{where}: box width and height must be positive, got w={parts[4]} h={parts[5]}"
        )
    pad = _PAD[kind][len(values) - 6 :] if len(values) < MOT_COLUMNS else ()
    return values + list(pad)


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def frames_of(rows: np.ndarray) -> dict[int, np.ndarray]:
    """Group rows by frame number: ``{frame: (n_i, 10) rows}``, frames in increasing order."""
    if len(rows) == 0:
        return {}
    frames = rows[:, 0].astype(np.int64)
    cuts = np.flatnonzero(np.diff(frames)) + 1
    return {int(chunk[0, 0]): chunk for chunk in np.split(rows, cuts)}


def rows_to_xyxy(rows: np.ndarray) -> np.ndarray:
    """``(N, >=6)`` MOT rows -> ``(N, 4)`` float64 corner boxes ``x1, y1, x2, y2``."""
    xywh = np.asarray(rows, dtype=np.float64)[:, 2:6]
    return np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)


def xyxy_to_rows(
    frame_id: int | np.ndarray,
    ids: np.ndarray,
    xyxy: np.ndarray,
    conf: np.ndarray | None = None,
) -> np.ndarray:
    """Corner boxes -> ``(N, 10)`` result rows ``frame, id, x, y, w, h, conf, -1, -1, -1``.

    ``frame_id`` is one frame number or one per box; ``conf`` defaults to 1.
    """
    xyxy = np.asarray(xyxy, dtype=np.float64).reshape(-1, 4)
    rows = np.full((len(xyxy), MOT_COLUMNS), -1.0)
    rows[:, 0] = frame_id
    rows[:, 1] = np.asarray(ids, dtype=np.float64).reshape(-1)
    rows[:, 2:4] = xyxy[:, :2]
    rows[:, 4:6] = xyxy[:, 2:] - xyxy[:, :2]
    rows[:, 6] = 1.0 if conf is None else np.asarray(conf, dtype=np.float64).reshape(-1)
    return rows


def format_mot_rows(rows: np.ndarray) -> str:
    """Format rows the way MOTChallenge files are written: integer frame/id, 2-decimal boxes."""
    lines = []
    for r in np.asarray(rows, dtype=np.float64).reshape(-1, MOT_COLUMNS):
        lines.append(
            f"{int(r[0])},{int(r[1])},{r[2]:.2f},{r[3]:.2f},{r[4]:.2f},{r[5]:.2f},"
            f"{_num(r[6])},{_num(r[7])},{_num(r[8])},{_num(r[9])}"
        )
    return "\n".join(lines) + ("\n" if lines else "")


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else f"{v:.4f}".rstrip("0")


def write_mot(path: str | os.PathLike[str], rows: np.ndarray) -> Path:
    """Write ``(N, 6..10)`` rows atomically, sorted by frame then id; short rows are padded with -1."""
    arr = np.asarray(rows, dtype=np.float64)
    if arr.ndim != 2 or not 6 <= arr.shape[1] <= MOT_COLUMNS:
        arr = arr.reshape(-1, MOT_COLUMNS) if arr.size == 0 else arr
        if arr.ndim != 2 or not 6 <= arr.shape[1] <= MOT_COLUMNS:
            raise ValueError(f"MOT rows must have shape (N, 6..10), got {np.shape(rows)}")
    if arr.shape[1] < MOT_COLUMNS:
        arr = np.hstack([arr, -np.ones((len(arr), MOT_COLUMNS - arr.shape[1]))])
    if len(arr):
        arr = arr[np.lexsort((arr[:, 1], arr[:, 0]))]
    return atomic_write_text(path, format_mot_rows(arr))


GT_TXT = "gt/gt.txt"
DET_TXT = "det/det.txt"


def is_sequence(folder: str | os.PathLike[str], marker: str | Sequence[str] = GT_TXT) -> bool:
    """Whether ``folder`` is a MOTChallenge sequence: it holds ``marker`` (a relative path, or
    several of which any will do, e.g. ``("gt", "img1", "seqinfo.ini")``)."""
    markers = (marker,) if isinstance(marker, str) else tuple(marker)
    p = Path(folder)
    return p.is_dir() and any((p / m).exists() for m in markers)


def find_sequences(
    folder: str | os.PathLike[str],
    marker: str | Sequence[str] = GT_TXT,
    *,
    include_self: bool = False,
) -> list[Path]:
    """Sequence folders directly under ``folder`` (see :func:`is_sequence`), sorted by name.

    With ``include_self``, a ``folder`` that is itself a sequence gives ``[folder]``. A missing
    folder gives ``[]``; callers say what they expected.
    """
    p = Path(folder)
    if include_self and is_sequence(p, marker):
        return [p]
    if not p.is_dir():
        return []
    return sorted(d for d in p.iterdir() if is_sequence(d, marker))


def split_folder(root: str | os.PathLike[str], split: str) -> Path | None:
    """``root/split``, or ``root/dataset/split`` (the SportsMOT release's extra level); ``None``
    when neither exists."""
    for folder in (Path(root) / split, Path(root) / "dataset" / split):
        if folder.is_dir():
            return folder
    return None


@dataclass(frozen=True)
class SeqInfo:
    """The ``[Sequence]`` section of a MOTChallenge ``seqinfo.ini``."""

    name: str
    frame_rate: float
    seq_length: int
    im_width: int
    im_height: int
    im_dir: str = "img1"
    im_ext: str = ".jpg"


def read_seqinfo(path: str | os.PathLike[str]) -> SeqInfo:
    """Read ``seqinfo.ini`` (the file itself or its sequence folder)."""
    p = Path(path)
    if p.is_dir():
        p = p / "seqinfo.ini"
    if not p.is_file():
        raise UserError(f"{p}: seqinfo.ini not found; a MOTChallenge sequence folder needs one")
    parser = configparser.ConfigParser()
    try:
        parser.read(p, encoding="utf-8")
    except configparser.Error as err:
        raise UserError(f"{p}: malformed seqinfo.ini ({err.message.splitlines()[0]})") from None
    if not parser.has_section("Sequence"):
        raise UserError(f"{p}: no [Sequence] section; not a MOTChallenge seqinfo.ini")
    sec = parser["Sequence"]
    try:
        return SeqInfo(
            name=sec.get("name", p.parent.name),
            frame_rate=float(sec.get("frameRate", "30")),
            seq_length=int(sec["seqLength"]),
            im_width=int(sec["imWidth"]),
            im_height=int(sec["imHeight"]),
            im_dir=sec.get("imDir", "img1"),
            im_ext=sec.get("imExt", ".jpg"),
        )
    except KeyError as err:
        raise UserError(f"{p}: missing key {err.args[0]} in [Sequence]") from None
    except ValueError as err:
        raise UserError(f"{p}: bad value in [Sequence] ({err})") from None


def write_seqinfo(path: str | os.PathLike[str], info: SeqInfo) -> Path:
    p = Path(path)
    if p.is_dir():
        p = p / "seqinfo.ini"
    fr = int(info.frame_rate) if float(info.frame_rate).is_integer() else info.frame_rate
    text = (
        "[Sequence]\n"
        f"name={info.name}\n"
        f"imDir={info.im_dir}\n"
        f"frameRate={fr}\n"
        f"seqLength={info.seq_length}\n"
        f"imWidth={info.im_width}\n"
        f"imHeight={info.im_height}\n"
        f"imExt={info.im_ext}\n"
    )
    return atomic_write_text(p, text)


def read_seqmap(path: str | os.PathLike[str]) -> list[str]:
    """Read a TrackEval seqmap (a ``name`` header line, then one sequence name per line)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: seqmap not found")
    names = [ln.strip() for ln in p.read_text(encoding="utf-8").splitlines() if ln.strip()]
    if names and names[0].lower() == "name":
        names = names[1:]
    return names


def write_seqmap(path: str | os.PathLike[str], names: list[str]) -> Path:
    return atomic_write_text(path, "name\n" + "".join(f"{n}\n" for n in names))
