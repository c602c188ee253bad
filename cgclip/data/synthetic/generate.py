"""Write synthetic dance/sports/street sequences in the MOTChallenge layout (see DEVELOPING.md).

Dance and sports identities come in groups (troupes, teams) with one uniform each; street
identities are passers-by in varied clothes, some in near-identical pairs. Every split has its own
pool of identities (train and val identities are disjoint, as in ReID benchmarks), and identities
appear in several sequences of their split, so cross-video re-identification has ground truth:
``id_map.csv`` links each sequence-local track id to its global identity. Everything is
deterministic for a seed. ``docs/synthetic.md`` describes the options (frame rate, duration,
detector profile, image-free generation).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from cgclip.data.synthetic.detections import DetectionNoise, noisy_detections
from cgclip.data.synthetic.motion import Camera, dance_motion, sports_motion
from cgclip.data.synthetic.people import (
    ATTRIBUTE_COLUMNS,
    COLORS,
    COSTUMES,
    KITS,
    SPORTS,
    Identity,
    make_group,
)
from cgclip.data.synthetic.profiles import PROFILE_NAMES, PROFILES, profile_detections
from cgclip.data.synthetic.render import render_frames
from cgclip.data.synthetic.street import StreetPlan
from cgclip.data.synthetic.street_scene import plan_street_split, street_frames
from cgclip.errors import UserError
from cgclip.io.atomic import atomic_write_json, atomic_write_text
from cgclip.io.mot import SeqInfo, write_mot, write_seqinfo, write_seqmap
from cgclip.io.video import VideoWriter

KINDS = ("dance", "sports", "street")
FRAME_RATES = (10, 15, 25, 30, 60)  # the rates the options are tested at (any 1..120 works)
STAMP_NAME = ".synthetic.json"  # written last: a root holding it is a finished dataset


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. ``seqs_per_split`` counts sequences per scene kind and split.

    ``fps`` changes the motion per frame, not the motion per second; ``seconds`` (when set)
    overrides ``frames`` with ``round(seconds * fps)``, so a sequence spans the same time at any
    frame rate. ``detector_profile`` picks the ``det.txt`` noise (:data:`PROFILE_NAMES`).
    ``render=False`` writes annotations only (no JPEGs, no MP4): for cheap tuning sweeps.
    ``walkers`` is the street's (min, max) people in view, spread geometrically over the
    sequences of each split; ``lookalike_share`` the share of street identities in near-identical
    pairs.
    """

    width: int = 640
    height: int = 360
    fps: float = 25.0
    frames: int = 150
    kinds: tuple[str, ...] = ("dance", "sports")
    splits: tuple[str, ...] = ("train", "val")
    seqs_per_split: int = 2
    dancers: int = 7
    team_size: int = 5
    teams_per_split: int = 2
    troupes_per_split: int = 1
    seed: int = 0
    write_video: bool = True
    jpeg_quality: int = 90
    noise: DetectionNoise = field(default_factory=DetectionNoise)
    seconds: float | None = None
    detector_profile: str = "synthetic"
    render: bool = True
    walkers: tuple[int, int] = (3, 40)
    lookalike_share: float = 0.3

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise UserError(f"unknown scene kind(s) {bad}; choose from {list(KINDS)}")
        if not 1 <= self.fps <= 120:
            raise UserError(f"fps must be in 1..120 (tested: {list(FRAME_RATES)}), got {self.fps}")
        if self.detector_profile not in PROFILE_NAMES:
            raise UserError(
                f"unknown detector profile {self.detector_profile!r}; "
                f"choose from {list(PROFILE_NAMES)}"
            )
        if self.seconds is not None and self.seconds <= 0:
            raise UserError(f"seconds must be positive, got {self.seconds}")
        lo, hi = self.walkers
        if not 1 <= lo <= hi <= 80:
            raise UserError(f"walkers must be (min, max) with 1 <= min <= max <= 80, got {lo, hi}")
        if not 0 <= self.lookalike_share <= 1:
            raise UserError("lookalike_share must be in [0, 1]")
        if self.n_frames < 2 or self.width < 64 or self.height < 64:
            raise UserError("synthetic sequences need at least 2 frames and 64x64 pixels")
        if self.seqs_per_split < 1 or self.teams_per_split < 2 or self.troupes_per_split < 1:
            raise UserError(
                "need seqs_per_split >= 1, teams_per_split >= 2, troupes_per_split >= 1"
            )

    @property
    def n_frames(self) -> int:
        """Frames per sequence: ``round(seconds * fps)`` when ``seconds`` is set, else ``frames``."""
        return self.frames if self.seconds is None else int(round(self.seconds * self.fps))


# Options added after datasets were published: left out of the digest at their defaults, so
# existing stamped datasets stay up to date (their files are byte-identical).
_LATER_DEFAULTS = {
    "seconds": None,
    "detector_profile": "synthetic",
    "render": True,
    "walkers": (3, 40),
    "lookalike_share": 0.3,
}

PRESETS: dict[str, SyntheticConfig] = {
    # Tests, examples and CI: 8 short sequences (2 kinds x 2 splits x 2), ~20 s on one core.
    "test": SyntheticConfig(frames=120),
    # Local benchmarks and training: longer sequences, more groups, more cross-video overlap.
    "full": SyntheticConfig(frames=450, seqs_per_split=3, teams_per_split=3, troupes_per_split=2),
    # The re-identification benchmark (configs/train/synthetic.yaml, benchmarks/reid_ablation.py):
    # many look-alike groups (58 identities per split, each in 2-4 sequences of its split) in short
    # sequences without MP4s, ~30 s on one core.
    "reid": SyntheticConfig(
        frames=100, seqs_per_split=8, teams_per_split=6, troupes_per_split=4, write_video=False
    ),
}


@dataclass(frozen=True)
class SequenceSpec:
    name: str
    split: str
    kind: str
    look: str  # "dance" or the sport
    people: tuple[Identity, ...]
    index: int  # global sequence index, seeds its RNG
    plan: StreetPlan | None = None  # street only: the walks, people[i] walks plan.walkers[i]


def plan_dataset(cfg: SyntheticConfig) -> tuple[list[Identity], list[SequenceSpec]]:
    """Decide identities and which groups appear in which sequence (no rendering)."""
    rng = np.random.default_rng([cfg.seed, 7])
    identities: list[Identity] = []
    specs: list[SequenceSpec] = []
    counters = dict.fromkeys(KINDS, 0)
    next_gid = 1
    for s, split in enumerate(cfg.splits):
        troupes, teams = [], []
        for g in range(cfg.troupes_per_split):
            top, pants = COSTUMES[(s * cfg.troupes_per_split + g) % len(COSTUMES)]
            group = make_group(
                rng,
                first_gid=next_gid,
                size=cfg.dancers,
                scene="dance",
                group=f"troupe-{split}-{g}",
                uniform=top,
                pants=pants,
            )
            next_gid += len(group)
            troupes.append(group)
        sport = SPORTS[s % len(SPORTS)]
        for g in range(cfg.teams_per_split):
            shirt, shorts = KITS[(s * cfg.teams_per_split + g) % len(KITS)]
            group = make_group(
                rng,
                first_gid=next_gid,
                size=cfg.team_size,
                scene=sport,
                group=f"team-{split}-{g}",
                uniform=shirt,
                pants=shorts,
            )
            next_gid += len(group)
            teams.append(group)
        identities += [p for grp in troupes + teams for p in grp]
        for kind in cfg.kinds:
            if kind == "street":
                continue  # planned below, after every group (keeps their ids and seeds)
            for i in range(cfg.seqs_per_split):
                idx = counters[kind]
                counters[kind] += 1
                if kind == "dance":
                    people, look = troupes[i % len(troupes)], "dance"
                else:  # teams rotate so every team meets several opponents
                    a, b = i % len(teams), (i + 1) % len(teams)
                    people, look = teams[a] + teams[b], sport
                specs.append(
                    SequenceSpec(f"{kind}-{idx:02d}", split, kind, look, tuple(people), len(specs))
                )
    if "street" in cfg.kinds:
        next_gid = _plan_street(cfg, identities, specs, next_gid, counters)
    return identities, specs


def _plan_street(
    cfg: SyntheticConfig,
    identities: list[Identity],
    specs: list[SequenceSpec],
    next_gid: int,
    counters: dict[str, int],
) -> int:
    """Append street sequences (walks, then pedestrians drawn from a per-split pool)."""
    for s, split in enumerate(cfg.splits):
        walks, pool = plan_street_split(
            seed=cfg.seed,
            split_index=s,
            split=split,
            count=cfg.seqs_per_split,
            walkers=cfg.walkers,
            seconds=cfg.n_frames / cfg.fps,
            size=(cfg.width, cfg.height),
            first_index=len(specs),
            first_gid=next_gid,
            lookalike_share=cfg.lookalike_share,
        )
        next_gid += len(pool)
        identities += pool
        for plan, people in walks:
            idx = counters["street"]
            counters["street"] += 1
            specs.append(
                SequenceSpec(
                    f"street-{idx:02d}", split, "street", "street", people, len(specs), plan
                )
            )
    return next_gid


@dataclass
class SequenceResult:
    name: str
    gt: np.ndarray  # (N, 9) frame, local id, x, y, w, h, 1, 1, visibility
    det: np.ndarray  # (M, 10)
    local_ids: dict[int, int]  # global id -> local track id


def render_sequence(
    spec: SequenceSpec,
    cfg: SyntheticConfig,
    seq_dir: Path | None,
    *,
    video_path: Path | None = None,
    progress: tqdm | None = None,
) -> SequenceResult:
    """Render one sequence; write frames to ``seq_dir/img1`` and/or an MP4 when given.

    With ``cfg.render`` False nothing is painted or written; the truth and detections are the
    same as a painted run's.
    """
    rng = np.random.default_rng([cfg.seed, 1000 + spec.index])
    n = len(spec.people)
    frames = cfg.n_frames
    if spec.kind == "street":
        local = rng.permutation(n) + 1  # sequence-local track ids, unrelated to global ids
        assert spec.plan is not None
        source = street_frames(
            spec.plan,
            list(spec.people),
            size=(cfg.width, cfg.height),
            fps=cfg.fps,
            n_frames=cfg.n_frames,
            rng=rng,
            paint=cfg.render,
        )
    else:
        if spec.kind == "dance":
            track, halfwidth = dance_motion(n, frames, rng, fps=cfg.fps), 0.5
        else:
            track, halfwidth = sports_motion(n // 2, frames, rng, fps=cfg.fps), 1.0
        local = rng.permutation(n) + 1
        source = render_frames(
            list(spec.people),
            track,
            Camera(cfg.width, cfg.height),
            spec.look,
            rng,
            field_halfwidth=halfwidth,
            fps=cfg.fps,
            paint=cfg.render,
        )
    img_dir = seq_dir / "img1" if seq_dir is not None and cfg.render else None
    if img_dir is not None:
        img_dir.mkdir(parents=True, exist_ok=True)
    writer = (
        VideoWriter(video_path, cfg.fps, (cfg.width, cfg.height))
        if video_path is not None and cfg.render
        else None
    )
    gt_rows, per_frame = [], []
    try:
        if writer is not None:
            writer.__enter__()
        for t, (frame, truths) in enumerate(source, start=1):
            if img_dir is not None:
                ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
                assert ok
                (img_dir / f"{t:06d}.jpg").write_bytes(buf.tobytes())
            if writer is not None:
                writer.write(frame)
            for tr in truths:
                gt_rows.append((t, int(local[tr.person]), *tr.box, 1, 1, round(tr.visibility, 3)))
            per_frame.append(truths)
            if progress is not None:
                progress.update(1)
    except BaseException as err:
        if writer is not None:
            writer.__exit__(type(err), err, err.__traceback__)
        raise
    if writer is not None:
        writer.__exit__(None, None, None)
    gt = np.asarray(gt_rows, dtype=np.float64).reshape(-1, 9)
    det_rng = np.random.default_rng([cfg.seed, 2000 + spec.index])
    if cfg.detector_profile == "synthetic":
        det_rows = [
            noisy_detections(
                t,
                np.array([tr.box for tr in truths]).reshape(-1, 4),
                np.array([tr.visibility for tr in truths]),
                width=cfg.width,
                height=cfg.height,
                rng=det_rng,
                noise=cfg.noise,
            )
            for t, truths in enumerate(per_frame, start=1)
        ]
        det = np.concatenate(det_rows) if det_rows else np.zeros((0, 10))
    else:
        det = profile_detections(
            gt,
            frames=frames,
            fps=cfg.fps,
            width=cfg.width,
            height=cfg.height,
            rng=det_rng,
            profile=PROFILES[cfg.detector_profile],
        )
    return SequenceResult(
        spec.name, gt, det, {p.gid: int(local[i]) for i, p in enumerate(spec.people)}
    )


def _config_digest(cfg: SyntheticConfig) -> str:
    fields = asdict(cfg)
    for name, default in _LATER_DEFAULTS.items():
        if fields[name] == default:
            del fields[name]
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()[:16]


def generate_dataset(
    root: str | Path,
    cfg: SyntheticConfig = PRESETS["test"],
    *,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Generate every sequence of ``cfg`` under ``root``; returns ``root``.

    A finished dataset is stamped with its config digest; calling again with the same config is a
    no-op unless ``force``. A partly written sequence (interrupted run) is rendered again.
    """
    root = Path(root)
    stamp = root / STAMP_NAME
    digest = _config_digest(cfg)
    if not force and stamp.is_file() and json.loads(stamp.read_text()).get("digest") == digest:
        return root
    identities, specs = plan_dataset(cfg)
    total = cfg.n_frames * len(specs)
    id_map: list[tuple[str, int, int]] = []
    with tqdm(total=total, desc="synthetic", unit="frame", disable=not progress) as bar:
        for spec in specs:
            seq_dir = root / spec.split / spec.name
            video = seq_dir / f"{spec.name}.mp4" if cfg.write_video and cfg.render else None
            res = render_sequence(spec, cfg, seq_dir, video_path=video, progress=bar)
            write_mot(seq_dir / "gt" / "gt.txt", _pad_gt(res.gt))
            write_mot(seq_dir / "det" / "det.txt", res.det)
            write_seqinfo(
                seq_dir / "seqinfo.ini",
                SeqInfo(spec.name, cfg.fps, cfg.n_frames, cfg.width, cfg.height),
            )
            id_map += [
                (spec.name, lid, gid)
                for gid, lid in sorted(res.local_ids.items(), key=lambda kv: kv[1])
            ]
    for split in cfg.splits:
        write_seqmap(root / "seqmaps" / f"{split}.txt", [s.name for s in specs if s.split == split])
    _write_csv(root / "identities.csv", ATTRIBUTE_COLUMNS, [p.attribute_row() for p in identities])
    _write_csv(
        root / "id_map.csv",
        ["sequence", "track_id", "global_id"],
        [
            dict(zip(["sequence", "track_id", "global_id"], map(str, row), strict=True))
            for row in id_map
        ],
    )
    splits = {split: [s.name for s in specs if s.split == split] for split in cfg.splits}
    atomic_write_json(stamp, {"digest": digest, "config": asdict(cfg), "splits": splits})
    return root


def _pad_gt(gt: np.ndarray) -> np.ndarray:
    """gt rows are 9 columns (frame, id, box, consider, class, visibility); files carry 10."""
    return np.hstack([gt, -np.ones((len(gt), 1))]) if len(gt) else np.zeros((0, 10))


def _write_csv(path: Path, columns: list[str], rows: list[dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def generate_sample(
    out_dir: str | Path,
    *,
    kind: str = "dance",
    frames: int = 250,
    seed: int = 0,
    progress: bool = True,
    force: bool = False,
    fps: float = 25.0,
    seconds: float | None = None,
    detector_profile: str = "synthetic",
) -> Path:
    """One clip for demos and ``make run``: ``sample.mp4`` with ``det.txt``, ``gt.txt``, ``identities.csv``.

    ``seconds`` (when set) overrides ``frames`` with ``round(seconds * fps)``.
    """
    out = Path(out_dir)
    cfg = replace(
        PRESETS["test"],
        frames=frames,
        kinds=(kind,),
        splits=("sample",),
        seqs_per_split=1,
        dancers=8,
        seed=seed,
        fps=fps,
        seconds=seconds,
        detector_profile=detector_profile,
    )
    stamp = out / ".sample.json"
    digest = _config_digest(cfg)
    if (
        not force
        and stamp.is_file()
        and json.loads(stamp.read_text()).get("digest") == digest
        and (out / "sample.mp4").is_file()
    ):
        return out
    identities, specs = plan_dataset(cfg)
    spec = specs[0]
    with tqdm(
        total=cfg.n_frames, desc=f"sample ({kind})", unit="frame", disable=not progress
    ) as bar:
        res = render_sequence(spec, cfg, None, video_path=out / "sample.mp4", progress=bar)
    write_mot(out / "gt.txt", _pad_gt(res.gt))
    write_mot(out / "det.txt", res.det)
    people = [p for p in identities if p.gid in res.local_ids]
    _write_csv(out / "identities.csv", ATTRIBUTE_COLUMNS, [p.attribute_row() for p in people])
    atomic_write_json(stamp, {"digest": digest, "config": asdict(cfg)})
    return out


__all__ = [
    "COLORS",
    "FRAME_RATES",
    "KINDS",
    "PRESETS",
    "STAMP_NAME",
    "SequenceSpec",
    "SyntheticConfig",
    "generate_dataset",
    "generate_sample",
    "plan_dataset",
    "render_sequence",
]
