"""Person detectors behind one interface: ``detect(frames, frame_ids) -> [sv.Detections]``.

- :class:`YoloDetector` - any ultralytics weights (default ``yolo11n.pt``), person class only.
- :class:`HogDetector` - the classic HOG + linear SVM people detector; offline, no weights.
- :class:`ReplayDetector` - public detections from a MOTChallenge ``det.txt`` (how trackers are
  compared fairly).

Frames are BGR ``(H, W, 3)`` uint8; ``frame_ids`` are 1-based (MOTChallenge numbering). Each
detector says how many frames it wants per call (``batch_size``) so the pipeline can stream. A
detector may also have ``check_video(info)``, which the pipeline calls before the first frame to
refuse a video it cannot serve (a det.txt of another sequence).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import supervision as sv

from cgclip.errors import UserError
from cgclip.io.mot import frames_of, read_mot, rows_to_xyxy
from cgclip.io.video import VideoInfo

log = logging.getLogger(__name__)

OFFLINE_HINT = (
    "offline alternatives: --detector hog (no weights), --detections det.txt (replay public "
    "detections), or --detector /path/to/local_weights.pt"
)


@runtime_checkable
class Detector(Protocol):
    batch_size: int

    def detect(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int]) -> list[sv.Detections]:
        """One :class:`sv.Detections` (xyxy, confidence, class_id 0) per input frame."""
        ...


def _detections(boxes: np.ndarray, conf: np.ndarray) -> sv.Detections:
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    return sv.Detections(
        xyxy=boxes,
        confidence=np.asarray(conf, dtype=np.float32).reshape(-1),
        class_id=np.zeros(len(boxes), dtype=np.int64),
    )


def rank_scores(rows: np.ndarray, path: Path | str = "det.txt") -> np.ndarray:
    """Detection rows with scores in [0, 1]; scores outside it become their rank in the file.

    Public detection sets carry raw detector scores: MOT15's ACF (about -1 to 140) and MOT17's
    DPM SVM margins. The tracker's thresholds are probabilities, and peers such as BoxMOT refuse
    such scores outright. A file's rank order is the one thing those scores mean, so the score
    of a row becomes ``rank / n`` (ties share the highest rank): a threshold of 0.5 then keeps
    the better half. On MOT15's seven training sequences this gave ByteTrack and us higher HOTA
    and IDF1 than dividing by the maximum or min-max scaling (``benchmarks.tracker_real``).
    Files already in [0, 1] are returned unchanged.
    """
    conf = rows[:, 6]
    if not len(rows) or (conf.min() >= 0.0 and conf.max() <= 1.0):
        return rows
    log.warning(
        "%s: detection scores span [%g, %g], not [0, 1] (raw detector scores); each becomes "
        "its rank in the file, so --conf and the tracker's thresholds act as quantiles",
        path,
        conf.min(),
        conf.max(),
    )
    out = rows.copy()
    out[:, 6] = np.searchsorted(np.sort(conf), conf, side="right") / len(conf)
    return out


class ReplayDetector:
    """Replays a MOTChallenge ``det.txt`` (``frame, -1, x, y, w, h, conf, ...``).

    The file is validated when opened (a malformed row is a one-line :class:`UserError` naming
    the line); rows are then served frame by frame.
    """

    batch_size = 1
    cli_options = frozenset({"conf"})  # --conf drops rows below it

    def __init__(self, path: str | os.PathLike[str], min_conf: float = -np.inf) -> None:
        self.path = Path(path)
        rows = rank_scores(read_mot(self.path, kind="det"), self.path)
        rows = rows[rows[:, 6] >= min_conf]
        self._rows = rows
        self._frames = frames_of(rows)
        self.last_frame = int(rows[:, 0].max()) if len(rows) else 0

    def check_video(self, info: VideoInfo) -> None:
        """Refuse detections that cannot belong to this video: frames past its end, or a box
        wholly outside its picture. Detections that stop before half the video are a warning."""
        hint = "is this the det.txt of another sequence?"
        if info.frame_count and self.last_frame > info.frame_count:
            raise UserError(
                f"{self.path}: detections go up to frame {self.last_frame} but the video has "
                f"{info.frame_count} frames; {hint}"
            )
        x, y, w, h = self._rows[:, 2:6].T
        outside = (x >= info.width) | (y >= info.height) | (x + w <= 0) | (y + h <= 0)
        if outside.any():
            row = self._rows[int(outside.argmax())]
            raise UserError(
                f"{self.path}: the box at frame {int(row[0])} (x={row[2]:g} y={row[3]:g} "
                f"w={row[4]:g} h={row[5]:g}) lies outside the {info.width}x{info.height} "
                f"video; {hint}"
            )
        if info.frame_count and 0 < self.last_frame < info.frame_count / 2:
            log.warning(
                "%s: detections end at frame %d of the video's %d; %s",
                self.path,
                self.last_frame,
                info.frame_count,
                hint,
            )

    def detect(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int]) -> list[sv.Detections]:
        out = []
        for fid in frame_ids:
            rows = self._frames.get(int(fid))
            if rows is None:
                out.append(_detections(np.zeros((0, 4)), np.zeros(0)))
                continue
            out.append(_detections(rows_to_xyxy(rows), rows[:, 6]))
        return out


class YoloDetector:
    """Ultralytics YOLO restricted to people.

    ``weights`` is a model name ultralytics can download (``yolo11n.pt``), a local ``.pt`` path, or
    a model ``.yaml`` (random init; for tests). Offline download failures and unreadable files
    become a one-line :class:`UserError`. ``.pt`` files load with torch's safe (``weights_only``)
    unpickler; ``trust_weights=True`` allows any pickle, which can run code (see docs/security.md).
    """

    cli_options = frozenset({"conf", "batch", "imgsz", "trust_weights"})

    def __init__(
        self,
        weights: str = "yolo11n.pt",
        *,
        conf: float = 0.1,
        batch_size: int = 8,
        imgsz: int = 640,
        device: str = "cpu",
        person_class: int | None = None,
        trust_weights: bool = False,
    ) -> None:
        self.weights = str(weights)
        self.conf = float(conf)
        self.batch_size = max(int(batch_size), 1)
        self.imgsz = int(imgsz)
        self.device = device
        self.model = load_yolo(self.weights, trust_weights=trust_weights)
        self.person_class = self._person_class(person_class)

    def _person_class(self, person_class: int | None) -> int:
        if person_class is not None:
            return int(person_class)
        names = getattr(self.model, "names", None) or {}
        for idx, name in dict(names).items():
            if str(name).lower() == "person":
                return int(idx)
        return 0  # COCO order (and a model built from a yaml, whose names are just numbers)

    def detect(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int]) -> list[sv.Detections]:
        if not frames:
            return []
        results = self.model.predict(
            list(frames),
            classes=[self.person_class],
            conf=self.conf,
            imgsz=self.imgsz,
            device=self.device,
            verbose=False,
        )
        out = []
        for r in results:
            boxes = r.boxes
            out.append(_detections(boxes.xyxy.cpu().numpy(), boxes.conf.cpu().numpy()))
        return out


TRUST_HINT = (
    "if you trust whoever made this file, pass --trust-weights (it lets the file run code on "
    "this machine); otherwise export the model again with a current ultralytics"
)


def load_yolo(weights: str, *, trust_weights: bool = False):
    """``ultralytics.YOLO(weights)`` with the failures a user can cause turned into UserError.

    A ``.pt`` file is a pickle, and unpickling can run any code it names. Unless
    ``trust_weights``, it is loaded with ultralytics' safe mode (``torch.load(weights_only=True)``
    with an allow-list of ultralytics/torch model classes), which refuses such a file before any
    of it runs.
    """
    from ultralytics import YOLO

    path = Path(weights)
    is_local = path.exists()
    if not is_local and (
        path.parent != Path(".") or path.suffix.lower() not in (".pt", ".yaml", ".yml")
    ):
        raise UserError(
            f"{weights}: YOLO weights not found; give a local .pt file or a model name like yolo11n.pt"
        )
    if is_local and path.is_file() and path.stat().st_size == 0:
        raise UserError(f"{weights}: weights file is empty; re-download or re-export it")
    try:
        with _ultralytics_safe_load(enabled=not trust_weights):
            return YOLO(str(weights))
    except UserError:
        raise
    except FileNotFoundError:
        raise UserError(
            f"{weights}: YOLO weights not found locally and not a downloadable ultralytics model; "
            + OFFLINE_HINT
        ) from None
    except (ConnectionError, TimeoutError, OSError) as err:
        if is_local:
            raise UserError(f"{weights}: cannot read the weights file ({err})") from None
        raise UserError(
            f"{weights}: download failed (is the machine offline?); " + OFFLINE_HINT
        ) from None
    except Exception as err:  # ultralytics raises TypeError/RuntimeError/KeyError for bad files
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        refused = "Weights only load failed" in str(err.__cause__ or "")
        refused = refused or "outside the supported" in first
        if refused and not trust_weights:  # the safe unpickler refused a global
            raise UserError(
                f"{weights}: refused to load: the file names Python objects outside the "
                f"Ultralytics checkpoint format, which could run code; {TRUST_HINT}"
            ) from None
        raise UserError(f"{weights}: not a loadable ultralytics model ({first[:160]})") from None


@contextlib.contextmanager
def _ultralytics_safe_load(enabled: bool) -> Iterator[None]:
    """Turn on ultralytics' opt-in safe mode (``ULTRALYTICS_SAFE_LOAD``) for the block.

    Ultralytics reads the flag once at import, as ``ultralytics.nn.tasks.SAFE_LOAD``; both its
    loader (``torch_safe_load``) and its model builder read that module global at call time.
    """
    if not enabled:
        yield
        return
    import ultralytics
    from ultralytics.nn import tasks

    safe = getattr(tasks, "_SafeLoad", None)
    if not hasattr(tasks, "SAFE_LOAD") or not getattr(safe, "SUPPORTED", False):
        import torch

        raise UserError(
            f"ultralytics {ultralytics.__version__} with torch {torch.__version__} cannot load "
            ".pt weights safely (ultralytics 8.4.190 with torch >= 2.6 can); upgrade them, or "
            + TRUST_HINT
        )
    previous = tasks.SAFE_LOAD
    tasks.SAFE_LOAD = True
    try:
        yield
    finally:
        tasks.SAFE_LOAD = previous


# HOG's people model needs a person about 100 pixels tall. On walkers filmed from above in SD and
# 720p, people marked by hand (benchmarks/real_clip.py; OpenCV's vtest.avi at 576 px: 20 of 23 at
# confidence 0.5 against 11 at upscale 1; a 1280x720 concourse: 32 of 42 at 0.1 against 24),
# upscale 1.5 found up to twice the people, at twice the cost or more; taller frames show people
# tall enough at 1.
AUTO_UPSCALE, AUTO_UPSCALE_MAX_HEIGHT = 1.5, 720


def auto_upscale(frame_height: int) -> float:
    """HOG's upscale for a frame ``frame_height`` pixels high when none is given."""
    return AUTO_UPSCALE if frame_height <= AUTO_UPSCALE_MAX_HEIGHT else 1.0


class HogDetector:
    """Dalal-Triggs HOG + linear SVM people detector (OpenCV's default people model).

    Runs offline with no weights file, in numpy (:mod:`tracker.hog`, the same windows and margins
    as OpenCV 4's ``HOGDescriptor.detectMultiScale``, which OpenCV 5 moved to contrib). The raw
    windows of every pyramid level are cut down to the person inside them (the model was trained
    on 64x128 crops with a 40x96 person in the middle), then non-maximum suppression keeps the
    strongest of overlapping boxes. SVM margins become confidences with ``1 - exp(-margin)``;
    ``conf`` drops boxes below it (it sets the SVM hit threshold to ``-log(1 - conf)``).

    ``upscale`` enlarges each frame first: HOG finds people at least ~100 pixels tall, so
    ``upscale=2`` finds people of 50 pixels, at about four times the cost. ``None`` (the
    default) picks it per frame size (:func:`auto_upscale`). ``scale`` is the
    pyramid step: 1.1 by default, half the work of OpenCV's 1.05 for about the same recall once
    NMS (rather than OpenCV's ``groupRectangles``, which wants 3 neighbouring windows) picks the
    boxes (benchmarks/hog_detector.py).
    """

    cli_options = frozenset({"conf", "hog_upscale"})
    # the person inside a 64x128 window: x from 12 to 52, y from 16 to 112 (INRIA crops)
    BODY = (12 / 64, 16 / 128, 52 / 64, 112 / 128)

    def __init__(
        self,
        *,
        scale: float = 1.1,
        stride: int = 8,
        hit_threshold: float = 0.0,
        conf: float | None = None,
        nms_iou: float = 0.45,
        upscale: float | None = None,
        batch_size: int = 1,
    ) -> None:
        from tracker.hog import HogPeopleDetector

        if upscale is not None and not upscale > 0:
            raise UserError(f"HOG upscale must be positive, got {upscale}")
        if conf is not None:
            if not 0 <= conf <= 1:
                raise UserError(f"confidence floor must be in [0, 1], got {conf}")
            floor = np.inf if conf >= 1 else -np.log1p(-conf)
            hit_threshold = max(hit_threshold, floor)
        self.batch_size = max(int(batch_size), 1)
        self.nms_iou = nms_iou
        self.upscale = None if upscale is None else float(upscale)
        self._hog = HogPeopleDetector(scale=scale, stride=stride, hit_threshold=hit_threshold)

    @classmethod
    def body_boxes(cls, windows: np.ndarray) -> np.ndarray:
        """``(N, 4)`` xyxy detection windows -> the person's box inside each."""
        windows = np.asarray(windows, dtype=np.float64).reshape(-1, 4)
        x0, y0, x1, y1 = windows.T
        w, h = x1 - x0, y1 - y0
        fx0, fy0, fx1, fy1 = cls.BODY
        return np.stack([x0 + fx0 * w, y0 + fy0 * h, x0 + fx1 * w, y0 + fy1 * h], axis=1)

    def detect(self, frames: Sequence[np.ndarray], frame_ids: Sequence[int]) -> list[sv.Detections]:
        out = []
        for frame in frames:
            up = auto_upscale(frame.shape[0]) if self.upscale is None else self.upscale
            windows, margins = self._hog.detect(frame, upscale=up, clip=False)
            conf = 1.0 - np.exp(-np.clip(margins, 0, None))
            h, w = frame.shape[:2]
            boxes = np.clip(self.body_boxes(windows), 0, [w, h, w, h])
            det = _detections(boxes, conf)
            if len(det) > 1:
                det = det.with_nms(threshold=self.nms_iou, class_agnostic=True)
            out.append(det)
        return out


# The command-line options that configure a detector (argparse dests; tracker.run's flags).
DETECTOR_OPTIONS = ("conf", "batch", "imgsz", "trust_weights", "hog_upscale")


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def detector_class(detector: str, detections: object | None = None) -> type:
    """The class ``--detector`` / ``--detections`` select (before anything is loaded)."""
    if detections is not None:
        return ReplayDetector
    if str(detector).lower() == "hog":
        return HogDetector
    return YoloDetector


def check_detector_options(
    detector: str, detections: object | None, given: dict[str, object]
) -> None:
    """Refuse, in one line, options given on the command line that the chosen detector does not
    use (``given``: option dest -> value, ``None`` where not given). Each detector class lists
    the options it uses in ``cli_options``."""
    cls = detector_class(detector, detections)
    unused = [d for d in DETECTOR_OPTIONS if given.get(d) is not None and d not in cls.cli_options]
    if not unused:
        return
    what = "--detections" if cls is ReplayDetector else f"--detector {detector}"
    uses = ", ".join(_flag(d) for d in DETECTOR_OPTIONS if d in cls.cli_options) or "none of them"
    flags = ", ".join(_flag(d) for d in unused)
    verb = "is" if len(unused) == 1 else "are"
    raise UserError(f"{flags} {verb} not used by {what} (its options: {uses}); drop {flags}")


def make_detector(
    detector: str = "yolo11n.pt",
    *,
    detections: str | os.PathLike[str] | None = None,
    conf: float | None = None,
    batch_size: int | None = None,
    imgsz: int | None = None,
    device: str = "cpu",
    trust_weights: bool | None = None,
    hog_upscale: float | None = None,
) -> Detector:
    """The detector the CLI's ``--detector`` / ``--detections`` options ask for; ``None`` means
    the detector's default (YOLO: conf 0.1, batch 8, imgsz 640; HOG: no floor, upscale by
    frame size;
    replayed detections: every row)."""
    cls = detector_class(detector, detections)
    if cls is ReplayDetector:
        assert detections is not None
        return ReplayDetector(detections, min_conf=-np.inf if conf is None else conf)
    if cls is HogDetector:
        return HogDetector(conf=conf, upscale=hog_upscale)
    return YoloDetector(
        detector,
        conf=0.1 if conf is None else conf,
        batch_size=8 if batch_size is None else batch_size,
        imgsz=640 if imgsz is None else imgsz,
        device=device,
        trust_weights=bool(trust_weights),
    )
