"""Tracker settings: one dataclass, named presets as YAML files under ``configs/tracker/``.

``TrackerConfig`` holds every association knob with a short note on what it does. Presets
(``default``, ``sports``, ``dance``) are partial YAML mappings over these defaults, tuned on the
synthetic *training* sequences only (see ``benchmarks/tracker_tune.py``). A user's
``--config tracker.yaml`` is applied the same way on top of the chosen preset.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import yaml

from cgclip.errors import UserError

PRESET_DIR = Path(__file__).resolve().parents[1] / "configs" / "tracker"


@dataclass(frozen=True)
class TrackerConfig:
    # Detection confidence: ByteTrack's two stages.
    high_thresh: float = 0.5  # detections at or above this enter the first (fused-cost) stage
    low_thresh: float = 0.1  # detections below this are dropped; between: second stage only
    new_track_thresh: float = 0.6  # a track is born only from a detection this confident
    # Matching gates (costs are "1 - IoU"-like, lower is better).
    match_thresh: float = 0.8  # max fused cost in the first stage
    low_match_thresh: float = 0.5  # max 1 - IoU for low-confidence detections
    tentative_match_thresh: float = 0.7  # max cost for not-yet-confirmed tracks
    recovery_match_thresh: float = 0.5  # max 1 - IoU against the last observation (OC-SORT OCR)
    min_iou: float = 0.1  # below this IoU a motion match is impossible
    # OC-SORT.
    direction_weight: float = 0.2  # weight of the motion-direction consistency term
    direction_delta: int = 3  # frames back used to estimate a track's direction
    observation_recovery: bool = True  # extra stage matching last observed boxes (OCR)
    reupdate_after_gap: bool = True  # re-run the filter along a virtual path after a gap (ORU)
    # Appearance (used when detections carry embeddings or an embedder is set).
    appearance_weight: float = 0.5  # w in (1 - w)(1 - IoU) + w * cosine distance
    appearance_gate: float = 0.4  # max cosine distance for a motion+appearance match
    reid_thresh: float = 0.25  # max cosine distance to bring back a lost track by appearance
    embedding_window: int = 8  # W: per-frame features kept per track for its tracklet embedding
    embed_max_overlap: float = 0.4  # a crop overlapping another detection more is not stored
    # Appearance that never hurts (docs/robustness.md). Reachability gate on every
    # appearance-driven re-identification (lost track x detection, and the late one at
    # confirmation): the detection's centre must lie within
    #   height * (reid_margin + seconds_lost * max(reid_max_speed, reid_speed_factor * speed))
    # of the track's last observed centre (camera motion compensated when cmc is on), where
    # speed is the track's own Kalman speed in box heights per second.
    reid_gate: bool = True
    reid_max_speed: float = 3.0  # box heights per second anyone may cover while unseen (a jog)
    reid_speed_factor: float = 2.0  # a fast track may keep accelerating while unseen
    reid_margin: float = 1.0  # box heights of slack: jitter, pose, a step through a border
    # Adaptive trust: appearance counts only as far as it separates the people in view. The
    # video's separability (how often a motion-confident match is also the nearest in
    # appearance among the people in view) scales the appearance weight and relaxes its gates,
    # and re-identification needs a cosine margin over every other known person.
    appearance_trust: bool = True
    trust_floor: float = 0.6  # separability at or below which appearance is ignored
    trust_full: float = 0.9  # separability at or above which appearance is fully trusted
    reid_min_margin: float = 0.05  # cosine margin a re-identification needs over the runner-up
    # Skip the image encoder for a detection that motion alone matches unambiguously: exactly one
    # track overlaps it, with IoU >= embed_skip_iou, and that track overlaps no other detection;
    # such a track still gets a fresh crop every embed_refresh frames. 0 embeds every detection.
    embed_skip_iou: float = 0.0
    embed_refresh: int = 10
    # Track life cycle.
    min_hits: int = 3  # consecutive matches before a new track is confirmed and reported
    max_time_lost: int = 30  # frames a lost track is still matched by motion
    reid_buffer: int = 300  # frames a lost track can still be re-identified by appearance
    # Motion model.
    std_position: float = 1 / 20  # Kalman position noise, relative to box size
    std_velocity: float = 1 / 160  # Kalman velocity noise, relative to box size
    # Camera-motion compensation by sparse optical flow (needs frames).
    cmc: bool = False
    cmc_downscale: int = 2  # work on frames downscaled by this factor
    # Output: "detection" reports the detector's box, "kalman" the filtered box (less jitter).
    output_box: str = "detection"

    def __post_init__(self) -> None:
        _check(
            0.0 <= self.low_thresh <= self.high_thresh <= 1.0,
            "need 0 <= low_thresh <= high_thresh <= 1",
        )
        _check(0.0 <= self.new_track_thresh <= 1.0, "new_track_thresh must be in [0, 1]")
        for name in (
            "match_thresh",
            "low_match_thresh",
            "tentative_match_thresh",
            "recovery_match_thresh",
        ):
            _check(0.0 < getattr(self, name) <= 2.0, f"{name} must be in (0, 2]")
        _check(0.0 <= self.min_iou < 1.0, "min_iou must be in [0, 1)")
        _check(0.0 <= self.appearance_weight <= 1.0, "appearance_weight must be in [0, 1]")
        _check(0.0 <= self.embed_skip_iou <= 1.0, "embed_skip_iou must be in [0, 1]")
        for name in (
            "min_hits",
            "embedding_window",
            "direction_delta",
            "cmc_downscale",
            "embed_refresh",
        ):
            _check(int(getattr(self, name)) >= 1, f"{name} must be a whole number >= 1")
        _check(self.max_time_lost >= 0 and self.reid_buffer >= 0, "buffers must be >= 0")
        _check(self.std_position > 0 and self.std_velocity > 0, "Kalman noise must be > 0")
        _check(
            self.reid_max_speed >= 0 and self.reid_speed_factor >= 0 and self.reid_margin >= 0,
            "reid_max_speed, reid_speed_factor and reid_margin must be >= 0",
        )
        _check(
            0.0 <= self.trust_floor < self.trust_full <= 1.0,
            "need 0 <= trust_floor < trust_full <= 1",
        )
        _check(0.0 <= self.reid_min_margin <= 2.0, "reid_min_margin must be in [0, 2]")

        _check(
            self.output_box in ("detection", "kalman"), "output_box must be 'detection' or 'kalman'"
        )

    def replace(self, **changes: Any) -> TrackerConfig:
        return dataclasses.replace(self, **check_keys(changes, "tracker config"))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise UserError(f"bad tracker config: {message}")


def check_keys(values: dict[str, Any], where: str) -> dict[str, Any]:
    """Reject unknown keys and values of the wrong type with a one-line :class:`UserError`."""
    known = {f.name: f for f in fields(TrackerConfig)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UserError(
            f"{where}: unknown tracker setting(s) {', '.join(unknown)}; valid keys: "
            f"{', '.join(sorted(known))}"
        )
    out = {}
    for key, value in values.items():
        default = getattr(TrackerConfig, key)
        if isinstance(default, str):
            ok = isinstance(value, str)
        elif isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        if not ok:
            raise UserError(f"{where}: {key} must be a {type(default).__name__}, got {value!r}")
        out[key] = value
    return out


def read_config_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a tracker YAML (a flat mapping of TrackerConfig keys) and validate its keys."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: tracker config not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise UserError(f"{p}: not valid YAML ({first})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"{p}: expected a mapping of tracker settings, got {type(data).__name__}")
    return check_keys(data, str(p))


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str, **overrides: Any) -> TrackerConfig:
    """``TrackerConfig`` for a named preset (``default``, ``sports``, ``dance``) plus overrides."""
    path = PRESET_DIR / f"{name}.yaml"
    if not path.is_file():
        raise UserError(
            f"unknown tracker preset {name!r}; choose one of {', '.join(preset_names()) or '(none found)'}"
        )
    return TrackerConfig(**read_config_yaml(path)).replace(**overrides)
