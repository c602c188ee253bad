"""What a batch tracks and what it has done: sources -> jobs, output names, the manifest.

- :func:`expand_sources` turns the command line's sources (video files, folders, globs, ``.txt``
  lists of paths or URLs) into :class:`Job` s, one per video, each with its ``det.txt`` and
  ground truth when it is in the MOTChallenge layout.
- :func:`assign_names` gives each job its output folder under ``--out``: the video's stem, with a
  stable suffix when two inputs share it; a name already in the manifest is kept.
- :class:`Manifest` is ``OUT/manifest.jsonl``, one JSON object per video (pending, done with its
  outputs' sha256, or failed with a one-line error), rewritten atomically after every change.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cgclip.errors import UserError
from cgclip.io.atomic import atomic_write_text
from cgclip.io.mot import DET_TXT, GT_TXT
from tracker.run import default_outputs

# What a folder scan counts as a video (an explicitly named file is tracked whatever its suffix).
VIDEO_EXTS = (".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".ts", ".wmv")
LIST_EXT = ".txt"
MANIFEST = "manifest.jsonl"
STATES = ("pending", "done", "failed")
URL_ERROR = "URLs are not supported offline; download the video and list its path instead"


@dataclass(frozen=True)
class Job:
    """One video of the batch.

    key: the manifest's key, the resolved path (or the URL as written).
    source: the path handed to the tracker, as the user named it (what ``tracker.run`` gets).
    detections: the video's ``det.txt`` (MOT layout), used with ``--detections auto``.
    gt: the MOT sequence folder holding ``gt/gt.txt``, scored after tracking.
    error: why the job cannot run at all (a URL, a listed file that is not there).
    name: the output folder under ``--out`` (see :func:`assign_names`).
    """

    key: str
    source: str
    detections: str | None = None
    gt: str | None = None
    error: str | None = None
    name: str = ""


def _is_url(text: str) -> bool:
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", text) is not None


def _is_sequence_folder(path: Path) -> bool:
    """A MOT sequence (``seq/img1``) or its ``img1`` folder."""
    return path.is_dir() and ((path / "img1").is_dir() or path.name == "img1")


def _mot_files(video: Path) -> tuple[str | None, str | None]:
    """``(det.txt, gt sequence folder)`` of a video in the MOT layout, each ``None`` if absent.

    A sequence folder (or its ``img1``) has them inside; a video file sitting in a sequence folder
    (``seq/seq.mp4``, as the synthetic generator writes) uses its folder's."""
    seq = video if video.is_dir() and video.name != "img1" else video.parent
    det = seq / DET_TXT
    return (str(det) if det.is_file() else None), (str(seq) if (seq / GT_TXT).is_file() else None)


def _video_job(path: Path, shown: str) -> Job:
    det, gt = _mot_files(path)
    return Job(key=str(path.resolve()), source=shown, detections=det, gt=gt)


def _scan_folder(folder: Path) -> Iterator[Path]:
    """Videos and MOT sequences under ``folder`` (recursively; a sequence is not entered)."""
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if _is_sequence_folder(entry):
            yield entry
        elif entry.is_dir():
            yield from _scan_folder(entry)
        elif entry.suffix.lower() in VIDEO_EXTS:
            yield entry


def _expand_one(text: str, *, listed_in: Path | None, depth: int = 0) -> Iterator[Job]:
    if _is_url(text):
        yield Job(key=text, source=text, error=URL_ERROR)
        return
    path = Path(text).expanduser()
    if listed_in is not None and not path.is_absolute():
        path = listed_in.parent / path
    shown = str(path)
    if path.is_file() and path.suffix.lower() == LIST_EXT:
        if depth > 4:
            raise UserError(f"{path}: lists nest more than 4 deep; is a list naming itself?")
        yield from _read_list(path, depth + 1)
    elif path.is_file() or _is_sequence_folder(path):
        yield _video_job(path, shown)
    elif path.is_dir():
        found = list(_scan_folder(path))
        if not found and listed_in is None:
            raise UserError(
                f"{path}: no videos ({', '.join(VIDEO_EXTS)}) or MOT sequences (seq/img1) in "
                "this folder"
            )
        for item in found:
            yield _video_job(item, str(item))
    elif glob.has_magic(text):
        matches = sorted(glob.glob(str(path), recursive=True))
        if not matches and listed_in is None:
            raise UserError(f"{text}: no file matches this pattern")
        for match in matches:
            yield from _expand_one(match, listed_in=None, depth=depth)
    elif listed_in is not None:  # an archive list may name a file that has gone: that video fails
        yield Job(key=str(path.absolute()), source=shown, error=f"{path}: no such file or folder")
    else:
        raise UserError(f"{path}: no such video file, folder, pattern or list")


def _read_list(path: Path, depth: int) -> Iterator[Job]:
    """A ``.txt`` list: one path (relative to the list's folder), pattern or URL per line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text list of videos (one path or URL per line)") from None
    for line in lines:
        item = line.strip()
        if item and not item.startswith("#"):
            yield from _expand_one(item, listed_in=path, depth=depth)


def expand_sources(sources: Iterable[str], *, exclude: Path | None = None) -> list[Job]:
    """One :class:`Job` per distinct video named by ``sources``, in the order given.

    A source is a video file, a MOT sequence folder (or its ``img1``), a folder (scanned for
    both, recursively), a glob pattern, or a ``.txt`` list of any of these and URLs. A source
    on the command line that names nothing is a :class:`UserError`; a missing path or a URL in a
    list becomes a job that fails on its own. Videos under ``exclude`` (the batch's own output
    folder, which may sit inside a scanned folder) are left out.
    """
    skip = exclude.resolve() if exclude is not None else None
    jobs: dict[str, Job] = {}
    for text in sources:
        for job in _expand_one(str(text), listed_in=None):
            if skip is not None and Path(job.key).is_relative_to(skip):
                continue
            jobs.setdefault(job.key, job)
    if not jobs:
        raise UserError("no videos to track: the sources name no video files or sequences")
    return list(jobs.values())


def output_stem(source: str) -> str:
    """The stem ``tracker.run`` names a video's outputs by (a sequence's name for MOT folders)."""
    if _is_url(source):
        name = source.rstrip("/").rsplit("/", 1)[-1]
        return Path(name).stem or "video"
    return default_outputs(Path(source), Path("."))["mot"].name.removesuffix(".mot.txt")


def _suffixed(stem: str, key: str) -> str:
    return f"{stem}-{hashlib.sha1(key.encode('utf-8')).hexdigest()[:8]}"


def assign_names(jobs: Sequence[Job], known: dict[str, str]) -> list[Job]:
    """Each job with its output folder name.

    ``known`` maps manifest keys to the names they already have; those are kept, so adding a
    video to a batch never renames another's folder. A new job gets its stem, or
    ``<stem>-<8 hex of sha1(key)>`` when the stem is shared with another input or taken."""
    from dataclasses import replace

    taken = {name: key for key, name in known.items()}
    stems = {job.key: output_stem(job.source) for job in jobs}
    counts: dict[str, int] = {}
    for job in jobs:
        if job.key not in known:
            counts[stems[job.key]] = counts.get(stems[job.key], 0) + 1
    named = []
    for job in jobs:
        if job.key in known:
            name = known[job.key]
        else:
            stem = stems[job.key]
            name = stem if counts[stem] == 1 and stem not in taken else _suffixed(stem, job.key)
            taken[name] = job.key
        named.append(replace(job, name=name))
    return named


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Manifest:
    """``OUT/manifest.jsonl``: one entry per video, keyed by ``entry["video"]`` (the job key).

    Entries keep their order; videos of earlier batches that are not in this one stay as they
    are. Every :meth:`update` rewrites the file atomically, so a kill at any moment leaves the
    previous or the new version, never half of one.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.entries: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self._read()

    def _read(self) -> None:
        for lineno, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                entry = None
            if not isinstance(entry, dict) or entry.get("state") not in STATES:
                raise UserError(
                    f"{self.path}:{lineno}: not a batch manifest entry; was this file edited? "
                    "Fix or remove that line (the video is then tracked again)"
                )
            self.entries[str(entry["video"])] = entry

    def names(self) -> dict[str, str]:
        return {key: str(e["name"]) for key, e in self.entries.items() if e.get("name")}

    def get(self, key: str) -> dict[str, Any] | None:
        return self.entries.get(key)

    def update(self, key: str, **fields: Any) -> dict[str, Any]:
        entry = self.entries.setdefault(key, {"video": key})
        entry.update(fields)
        self.save()
        return entry

    def save(self) -> None:
        text = "".join(json.dumps(e, sort_keys=True) + "\n" for e in self.entries.values())
        atomic_write_text(self.path, text)

    def outputs_intact(self, key: str, out_dir: Path) -> bool:
        """Whether a done video's output files are all still there."""
        outputs = (self.entries.get(key) or {}).get("outputs") or {}
        return bool(outputs) and all((out_dir / o["path"]).is_file() for o in outputs.values())
