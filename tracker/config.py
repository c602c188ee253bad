"""Tracker settings: one dataclass, named presets as YAML package data under ``tracker/presets/``.

``TrackerConfig`` holds every association knob with a short note on what it does. Presets
(``default``, ``sports``, ``dance``) are partial YAML mappings over these defaults, tuned on the
synthetic *training* sequences only (see ``benchmarks/tracker_tune.py``). A user's
``--config tracker.yaml`` is applied the same way on top of the chosen preset.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any

from cgclip.errors import UserError
from cgclip.io.config import check_fields, check_mapping, choice, from_mapping, num, read_yaml

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

PRESET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class TrackerConfig:
    # Detection confidence: ByteTrack's two stages.
    # detections at or above this enter the first (fused-cost) stage
    high_thresh: float = num(0.5, "[0, 1]")
    # detections below this are dropped; between: second stage only
    low_thresh: float = num(0.1, "[0, 1]")
    # a track is born only from a detection this confident
    new_track_thresh: float = num(0.6, "[0, 1]")
    # Matching gates (costs are "1 - IoU"-like, lower is better).
    match_thresh: float = num(0.8, "(0, 2]")  # max fused cost in the first stage
    low_match_thresh: float = num(0.5, "(0, 2]")  # max 1 - IoU for low-confidence detections
    tentative_match_thresh: float = num(0.7, "(0, 2]")  # max cost for not-yet-confirmed tracks
    # max 1 - IoU against the last observation (OC-SORT OCR)
    recovery_match_thresh: float = num(0.5, "(0, 2]")
    min_iou: float = num(0.1, "[0, 1)")  # below this IoU a motion match is impossible
    # OC-SORT.
    # weight of the motion-direction consistency term
    direction_weight: float = num(0.2, "[0, inf)")
    direction_delta: int = num(3, "[1, inf)")  # frames back used to estimate a track's direction
    observation_recovery: bool = True  # extra stage matching last observed boxes (OCR)
    reupdate_after_gap: bool = True  # re-run the filter along a virtual path after a gap (ORU)
    # Appearance (used when detections carry embeddings or an embedder is set).
    appearance_weight: float = num(0.5, "[0, 1]")  # w in (1 - w)(1 - IoU) + w * cosine distance
    # max cosine distance for a motion+appearance match; 2 (no gate) by default: cosine scales
    # differ per embedder, and on street 0.4 rejected a matched model's own detections (docs/robustness.md)
    appearance_gate: float = num(2.0, "[0, 2]")
    # max cosine distance to bring back a lost track by appearance (with appearance_trust also
    # a cap on top of the calibrated reid_rank)
    reid_thresh: float = num(0.25, "[0, 2]")
    # W: per-frame features kept per track for its tracklet embedding
    embedding_window: int = num(8, "[1, inf)")
    # a crop overlapping another detection more is not stored
    embed_max_overlap: float = num(0.4, "[0, 1]")
    # Appearance that never hurts (docs/robustness.md). Reachability gate on every
    # appearance-driven association (lost track x detection, the late re-identification at
    # confirmation, and the fused stages when appearance counts): the detection's centre must lie
    # within height * (reid_margin + seconds_lost * max(reid_max_speed, reid_speed_factor * speed))
    # of the track's last observed centre (camera motion compensated when cmc is on), where
    # speed is the track's own Kalman speed in box heights per second.
    reid_gate: bool = True
    # box heights per second anyone may cover while unseen (a jog)
    reid_max_speed: float = num(3.0, "[0, inf)")
    reid_speed_factor: float = num(2.0, "[0, inf)")  # a fast track may keep accelerating unseen
    reid_margin: float = num(1.0, "[0, inf)")  # box heights of slack: jitter, pose, a border step
    # Adaptive trust: appearance counts only as far as it separates the people in view. On each
    # video the tracker learns how far a person's own detection and a nearby rival lie from the
    # person's track embedding. Their separation (AUC) is the trust that scales the appearance
    # weight and relaxes its gate; re-identification uses a distance's rival rank (the fraction
    # of rivals that close). Off: raw cosine distances with reid_thresh and reid_min_margin.
    appearance_trust: bool = True
    # separability (AUC) at or below which appearance is ignored (0.5: chance; sampling noise
    # on a useless embedder reaches ~0.52), and at or above which it is fully trusted
    trust_floor: float = num(0.55, "[0, 1]")
    trust_full: float = num(0.7, "[0, 1]")
    # Re-identification bridges a gap, so it is calibrated on one: its samples compare a person's
    # detection with their track embedding as it was this many seconds earlier (up to twice
    # that). Consecutive frames are near-identical crops that any network matches, random ones
    # included; 0 calibrates re-identification on them too.
    reid_calibration_gap: float = num(1.0, "[0, inf)")
    # the trust ramp of that gap-aged calibration (recognising someone after a gap is harder, so
    # the same separability is weaker evidence than across one frame)
    reid_trust_floor: float = num(0.75, "[0, 1]")
    reid_trust_full: float = num(0.9, "[0, 1]")
    # re-identification (with appearance_trust): at most this fraction of rivals as close ...
    reid_rank: float = num(0.02, "[0, 1]")
    # ... a distance this many times more common for a person's own detection than a rival's ...
    reid_evidence: float = num(10.0, "[1, inf)")
    # ... and this much rival rank closer than the runner-up among the other known people
    reid_rank_margin: float = num(0.1, "[0, 1]")
    # re-identification without appearance_trust: cosine margin over the runner-up
    reid_min_margin: float = num(0.05, "[0, 2]")
    # Skip the image encoder for a detection that motion alone matches unambiguously: exactly one
    # track overlaps it, with IoU >= embed_skip_iou, and that track overlaps no other detection;
    # such a track still gets a fresh crop every embed_refresh frames. 0 embeds every detection.
    embed_skip_iou: float = num(0.0, "[0, 1]")
    embed_refresh: int = num(10, "[1, inf)")
    # Track life cycle.
    # consecutive matches before a new track is confirmed and reported
    min_hits: int = num(3, "[1, inf)")
    # frames (given at 30 fps, scaled to the video's rate) a lost track is still matched by motion
    max_time_lost: int = num(30, "[0, inf)")
    # frames a lost track can still be re-identified by appearance
    reid_buffer: int = num(300, "[0, inf)")
    # frames a track that was lost at the image border (it walked out of view) stays
    # re-identifiable; null: reid_buffer. Players leave and come back; passers-by do not, and a
    # stranger entering later must not take their id (docs/robustness.md)
    reid_exit_buffer: int | None = num(None, "[0, inf)")
    # Motion model.
    std_position: float = num(1 / 20, "(0, inf)")  # Kalman position noise, relative to box size
    std_velocity: float = num(1 / 160, "(0, inf)")  # Kalman velocity noise, relative to box size
    # StrongSORT's NSA Kalman: a matched box's measurement variance times k * (1 - confidence),
    # so confident boxes pull the state harder; 0 keeps it fixed (virtual ORU steps always do)
    confidence_noise: float = num(0.0, "[0, inf)")
    # ByteTrack's score fusion: the first stage's IoU times the detection's confidence, so a
    # weak box needs a closer overlap; helps calibrated confidences, hurts rank-scored ones
    # (MOT15: docs/robustness.md)
    fuse_score: bool = False
    # Camera-motion compensation by sparse optical flow (needs frames).
    cmc: bool = False
    cmc_downscale: int = num(2, "[1, inf)")  # work on frames downscaled by this factor
    # Class ids tracked (COCO person = 0, as sv.Detections.from_ultralytics gives them); null
    # tracks every class. Detections without class ids are all kept.
    classes: tuple[int, ...] | None = (0,)
    # Output: "detection" reports the detector's box, "kalman" the filtered box (less jitter).
    output_box: str = choice("detection", ("detection", "kalman"))

    def __post_init__(self) -> None:
        check_fields(self, "tracker config")  # types, finiteness and the ranges declared above
        if not self.low_thresh <= self.high_thresh:
            raise UserError("tracker config: need low_thresh <= high_thresh")
        if not self.trust_floor < self.trust_full:
            raise UserError("tracker config: need trust_floor < trust_full")
        if not self.reid_trust_floor < self.reid_trust_full:
            raise UserError("tracker config: need reid_trust_floor < reid_trust_full")

    def replace(self, **changes: Any) -> TrackerConfig:
        return dataclasses.replace(self, **check_keys(changes, "tracker config"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def check_keys(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Reject unknown keys, wrong types and out-of-range values with a one-line UserError."""
    return check_mapping(TrackerConfig, values, where)


def read_config_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a tracker YAML (a flat mapping of TrackerConfig keys) and check every setting."""
    data = read_yaml(path, "tracker config")
    return check_keys(data, str(path))


def _preset_dir() -> Traversable:
    # Package data (pyproject's package-data), so presets ship inside the wheel.
    return resources.files("tracker") / "presets"


def preset_names() -> list[str]:
    presets = _preset_dir()
    if not presets.is_dir():
        return []
    return sorted(
        p.name.removesuffix(".yaml")
        for p in presets.iterdir()
        if p.is_file() and p.name.endswith(".yaml")
    )


def load_preset(name: str, **overrides: Any) -> TrackerConfig:
    """``TrackerConfig`` for a named preset (``default``, ``sports``, ``dance``) plus overrides.

    A preset is a *name*, never a path (``--config`` is for files): anything else is an error, so
    a name from a user (or a web form) cannot reach a file outside the presets.
    """
    if not isinstance(name, str) or not PRESET_NAME.fullmatch(name):
        raise UserError(
            f"tracker preset {name!r} is not a preset name (letters, digits, - and _); choose "
            f"one of {', '.join(preset_names())}, or give a settings file with --config"
        )
    resource = _preset_dir() / f"{name}.yaml"
    if not resource.is_file():
        raise UserError(
            f"unknown tracker preset {name!r}; choose one of {', '.join(preset_names()) or '(none found)'}"
        )
    with resources.as_file(resource) as path:  # a real file even from a zipped install
        preset = read_config_yaml(path)
    return from_mapping(
        TrackerConfig, {**preset, **check_keys(overrides, "tracker config")}, f"preset {name!r}"
    )
