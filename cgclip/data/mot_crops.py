"""One MOT sequence to person tracklets: box filtering, tracklet cutting and crop writing.

Used by :mod:`cgclip.data.build_vreid` (supplement A.2): crop every (track, frame) box clipped to
the image, drop boxes that are too small or too occluded, cut each track into tracklets of at most
``max_len`` frames.

Visibility of a box is the fraction of it that is inside the image and not hidden by another
person. SportsMOT and DanceTrack write visibility 1 for every box, so by default (``visibility=
"auto"``) it is estimated from the boxes themselves: a box whose bottom edge is lower in the image
stands closer to the camera and hides what it overlaps (the usual ground-plane depth order). When
the gt file carries real visibilities (MOT17, the synthetic sets: some value below 1) those are
used instead, capped by the in-image fraction.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from cgclip.data._files import IMAGE_EXTS
from cgclip.data.vreid import crop_dir, crop_name
from cgclip.errors import UserError
from cgclip.io.mot import read_mot, read_seqinfo

VISIBILITY_SOURCES = ("auto", "gt", "boxes")
PERSON_CLASSES = (
    1,
    -1,
)  # MOT "pedestrian" and "no class given"; other MOT17 classes are not people to re-identify
_GRID = (12, 6)  # sample points per box (rows, cols) for the occlusion estimate


@dataclass(frozen=True)
class CropOptions:
    """How boxes are filtered and tracks cut. Changing any field rebuilds affected sequences."""

    min_height: int = 40  # pixels, after clipping to the image
    min_width: int = 16
    min_visibility: float = 0.5  # drop boxes with less of the person visible
    visibility: str = "auto"  # auto | gt | boxes (see the module doc)
    max_len: int = 50  # frames per tracklet at most (supplement A.2)
    min_len: int = 4  # shorter pieces are dropped
    max_gap: int = 10  # missing frames allowed inside one tracklet before it is cut
    jpeg_quality: int = 95

    def __post_init__(self) -> None:
        checks = [
            (self.min_height >= 1, "min_height must be >= 1"),
            (self.min_width >= 1, "min_width must be >= 1"),
            (0.0 <= self.min_visibility <= 1.0, "min_visibility must be in [0, 1]"),
            (
                self.visibility in VISIBILITY_SOURCES,
                f"visibility must be one of {VISIBILITY_SOURCES}",
            ),
            (self.max_len >= 1, "max_len must be >= 1"),
            (1 <= self.min_len <= self.max_len, "min_len must be in 1..max_len"),
            (self.max_gap >= 0, "max_gap must be >= 0"),
            (1 <= self.jpeg_quality <= 100, "jpeg_quality must be in 1..100"),
        ]
        for ok, message in checks:
            if not ok:
                raise UserError(f"bad builder option: {message}")

    def as_dict(self) -> dict:
        return asdict(self)


def box_visibility(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Visible fraction of each box in one frame, occluders ordered by their bottom edge.

    boxes: (n, 4) x, y, w, h  ->  (n,) in [0, 1]
    """
    n = len(boxes)
    if n == 0:
        return np.zeros(0)
    x, y, w, h = (boxes[:, i][:, None] for i in range(4))
    gy, gx = _GRID
    fy = (np.arange(gy) + 0.5) / gy
    fx = (np.arange(gx) + 0.5) / gx
    px = x + w * np.tile(fx, gy)[None, :]  # (n, P)
    py = y + h * np.repeat(fy, gx)[None, :]
    in_image = (px >= 0) & (px < width) & (py >= 0) & (py < height)
    x1, y1, x2, y2 = x[:, 0], y[:, 0], (x + w)[:, 0], (y + h)[:, 0]
    # inside[j, i, p]: sample p of box i falls inside box j
    inside = (
        (px[None] >= x1[:, None, None])
        & (px[None] < x2[:, None, None])
        & (py[None] >= y1[:, None, None])
        & (py[None] < y2[:, None, None])
    )
    in_front = y2[:, None] > y2[None, :]  # (j, i): j's feet are lower, so j is nearer
    hidden = (inside & in_front[:, :, None]).any(axis=0)
    return (in_image & ~hidden).mean(axis=1)


def in_image_fraction(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    x, y, w, h = boxes.T
    iw = np.clip(np.minimum(x + w, width) - np.maximum(x, 0), 0, None)
    ih = np.clip(np.minimum(y + h, height) - np.maximum(y, 0), 0, None)
    return (iw * ih) / (w * h)


def select_boxes(
    gt: np.ndarray, width: int, height: int, opts: CropOptions
) -> tuple[np.ndarray, dict[str, int]]:
    """Which gt rows to crop, and how many were dropped for which reason.

    gt: (N, 10) MOT rows  ->  keep (N,) bool, {"ignored", "small", "occluded": count}
    """
    person = (gt[:, 6] != 0) & np.isin(gt[:, 7], PERSON_CLASSES)
    boxes = gt[:, 2:6]
    x1, y1 = np.maximum(boxes[:, 0], 0), np.maximum(boxes[:, 1], 0)
    x2 = np.minimum(boxes[:, 0] + boxes[:, 2], width)
    y2 = np.minimum(boxes[:, 1] + boxes[:, 3], height)
    big = ((y2 - y1) >= opts.min_height) & ((x2 - x1) >= opts.min_width)

    source = opts.visibility
    if source == "auto":
        informative = person & (gt[:, 8] >= 0) & (gt[:, 8] < 1)
        source = "gt" if informative.any() else "boxes"
    if source == "gt":
        vis = np.minimum(np.clip(gt[:, 8], 0, 1), in_image_fraction(boxes, width, height))
    else:
        vis = np.zeros(len(gt))
        frames = gt[:, 0].astype(np.int64)
        for f in np.unique(frames[person]):
            rows = np.flatnonzero((frames == f) & person)
            vis[rows] = box_visibility(boxes[rows], width, height)
    visible = vis >= opts.min_visibility
    keep = person & big & visible
    stats = {
        "ignored": int((~person).sum()),
        "small": int((person & ~big).sum()),
        "occluded": int((person & big & ~visible).sum()),
    }
    return keep, stats


def split_track(frames: list[int], opts: CropOptions) -> list[list[int]]:
    """Cut one track's kept frames (sorted) into tracklets.

    A gap of more than ``max_gap`` missing frames ends a run; a run longer than ``max_len`` is cut
    into ``ceil(len / max_len)`` near-equal pieces (no tiny remainder); pieces shorter than
    ``min_len`` are dropped.
    """
    runs: list[list[int]] = []
    for f in frames:
        if runs and f - runs[-1][-1] - 1 <= opts.max_gap:
            runs[-1].append(f)
        else:
            runs.append([f])
    pieces: list[list[int]] = []
    for run in runs:
        k = math.ceil(len(run) / opts.max_len)
        bounds = np.linspace(0, len(run), k + 1).round().astype(int)
        pieces.extend(run[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True))
    return [p for p in pieces if len(p) >= opts.min_len]


@dataclass
class SequenceResult:
    tracklets: list[dict]  # {"track", "frames"}
    stats: dict[str, int]


def frame_images(seq_dir: Path) -> tuple[dict[int, Path], Path]:
    """Map frame number -> image path for a MOT sequence (``img1``, or seqinfo's imDir)."""
    im_dir = "img1"
    if (seq_dir / "seqinfo.ini").is_file():
        im_dir = read_seqinfo(seq_dir / "seqinfo.ini").im_dir
    folder = seq_dir / im_dir
    if not folder.is_dir():
        raise UserError(f"{folder}: image folder of the sequence not found")
    images = {}
    for p in folder.iterdir():
        if p.suffix.lower() in IMAGE_EXTS and p.stem.isdigit():
            images[int(p.stem)] = p
    if not images:
        raise UserError(f"{folder}: no frame images (expected 000001.jpg ...); empty sequence")
    return images, folder


def image_size(seq_dir: Path, images: dict[int, Path]) -> tuple[int, int]:
    if (seq_dir / "seqinfo.ini").is_file():
        info = read_seqinfo(seq_dir / "seqinfo.ini")
        return info.im_width, info.im_height
    first = images[min(images)]
    img = cv2.imread(str(first))
    if img is None:
        raise UserError(f"{first}: cannot decode image; the file is corrupt")
    return img.shape[1], img.shape[0]


def build_sequence(
    seq_dir: Path,
    out_root: Path,
    split: str,
    opts: CropOptions,
    progress: bool = True,
    workers: int = 1,
) -> SequenceResult:
    """Filter, cut and crop one sequence into ``out_root/<split>/<seq>/<track>/<frame>.jpg``."""
    gt_path = seq_dir / "gt" / "gt.txt"
    if not gt_path.is_file():
        raise UserError(
            f"{gt_path}: ground truth not found; the builder needs gt boxes (MOT test splits have "
            "none: build --split train,val)"
        )
    gt = read_mot(gt_path, kind="gt")
    if len(gt) == 0:
        raise UserError(f"{gt_path}: no boxes; an empty sequence gives no tracklets, remove it")
    images, folder = frame_images(seq_dir)
    width, height = image_size(seq_dir, images)
    keep, stats = select_boxes(gt, width, height, opts)

    rows_by_track: dict[int, dict[int, np.ndarray]] = {}
    for row in gt[keep]:
        rows_by_track.setdefault(int(row[1]), {})[int(row[0])] = row
    tracklets: list[dict] = []
    for track in sorted(rows_by_track):
        for piece in split_track(sorted(rows_by_track[track]), opts):
            tracklets.append({"track": track, "frames": piece})
    kept = sum(len(t["frames"]) for t in tracklets)
    stats["short"] = int(keep.sum()) - kept
    stats["kept"] = kept
    stats["tracklets"] = len(tracklets)

    # crops grouped by frame so every frame image is decoded once
    wanted: dict[int, list[tuple[int, np.ndarray]]] = {}
    for t in tracklets:
        for f in t["frames"]:
            wanted.setdefault(f, []).append((t["track"], rows_by_track[t["track"]][f]))
    for track in {t["track"] for t in tracklets}:
        crop_dir(out_root, split, seq_dir.name, track).mkdir(parents=True, exist_ok=True)
    params = [cv2.IMWRITE_JPEG_QUALITY, opts.jpeg_quality]

    def crop_frame(f: int) -> None:
        if f not in images:
            raise UserError(f"{gt_path}: frame {f} has boxes but {folder} has no image for it")
        img = cv2.imread(str(images[f]))
        if img is None:
            raise UserError(f"{images[f]}: cannot decode image; the file is corrupt")
        h_img, w_img = img.shape[:2]
        for track, row in wanted[f]:
            x, y, w, h = row[2:6]
            x1, y1 = max(int(math.floor(x)), 0), max(int(math.floor(y)), 0)
            x2, y2 = min(int(math.ceil(x + w)), w_img), min(int(math.ceil(y + h)), h_img)
            path = crop_dir(out_root, split, seq_dir.name, track) / crop_name(f)
            if not cv2.imwrite(str(path), img[y1:y2, x1:x2], params):
                raise UserError(f"{path}: could not write crop (disk full or no permission?)")

    # JPEG decode/encode release the GIL, so threads overlap them (the build is I/O bound)
    frames = sorted(wanted)
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        bar = tqdm(
            total=len(frames), desc=seq_dir.name, unit="frame", leave=False, disable=not progress
        )
        for _ in pool.map(crop_frame, frames):
            bar.update(1)
        bar.close()
    return SequenceResult(tracklets=tracklets, stats=stats)
