"""Write synthetic sports/dance sequences in the MOTChallenge layout (see DEVELOPING.md).

Identities come in groups (dance troupes, sports teams) with one uniform each. Every split has its
own pool of groups (train and val identities are disjoint, as in ReID benchmarks), and each group
appears in several sequences of its split, so cross-video re-identification has ground truth:
``id_map.csv`` links each sequence-local track id to its global identity. Everything is
deterministic for a seed.
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
from cgclip.data.synthetic.people import COLORS, SPORTS, Identity, make_group
from cgclip.data.synthetic.render import render_frames
from cgclip.errors import UserError
from cgclip.io.atomic import atomic_write_json, atomic_write_text
from cgclip.io.mot import SeqInfo, write_mot, write_seqinfo, write_seqmap
from cgclip.io.video import VideoWriter

KINDS = ("dance", "sports")
STAMP_NAME = ".synthetic.json"  # written last: a root holding it is a finished dataset
# Troupe costumes (top, pants) and team kits (shirt, shorts), picked in order per split.
COSTUMES = [
    ("white", "black"),
    ("red", "red"),
    ("black", "black"),
    ("sky blue", "white"),
    ("purple", "black"),
]
KITS = [
    ("yellow", "navy"),
    ("blue", "blue"),
    ("white", "gray"),
    ("red", "black"),
    ("green", "white"),
    ("orange", "black"),
    ("maroon", "white"),
    ("teal", "navy"),
]
ATTRIBUTE_COLUMNS = [
    "id",
    "scene",
    "gender",
    "uniform",
    "number",
    "others",
    "group",
    "hair_style",
    "hair_color",
    "skin",
    "shoes",
    "socks",
    "height",
]


@dataclass(frozen=True)
class SyntheticConfig:
    """What to generate. ``seqs_per_split`` counts sequences per scene kind and split."""

    width: int = 640
    height: int = 360
    fps: float = 25.0
    frames: int = 150
    kinds: tuple[str, ...] = KINDS
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

    def __post_init__(self) -> None:
        bad = [k for k in self.kinds if k not in KINDS]
        if bad:
            raise UserError(f"unknown scene kind(s) {bad}; choose from {list(KINDS)}")
        if self.frames < 2 or self.width < 64 or self.height < 64:
            raise UserError("synthetic sequences need at least 2 frames and 64x64 pixels")
        if self.seqs_per_split < 1 or self.teams_per_split < 2 or self.troupes_per_split < 1:
            raise UserError(
                "need seqs_per_split >= 1, teams_per_split >= 2, troupes_per_split >= 1"
            )


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
    return identities, specs


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
    """Render one sequence; write frames to ``seq_dir/img1`` and/or an MP4 when given."""
    rng = np.random.default_rng([cfg.seed, 1000 + spec.index])
    camera = Camera(cfg.width, cfg.height)
    n = len(spec.people)
    if spec.kind == "dance":
        track, halfwidth = dance_motion(n, cfg.frames, rng, fps=cfg.fps), 0.5
    else:
        track, halfwidth = sports_motion(n // 2, cfg.frames, rng, fps=cfg.fps), 1.0
    local = rng.permutation(n) + 1  # sequence-local track ids, unrelated to global ids
    gt_rows, det_rows = [], []
    img_dir = seq_dir / "img1" if seq_dir is not None else None
    if img_dir is not None:
        img_dir.mkdir(parents=True, exist_ok=True)
    writer = (
        VideoWriter(video_path, cfg.fps, (cfg.width, cfg.height))
        if video_path is not None
        else None
    )
    det_rng = np.random.default_rng([cfg.seed, 2000 + spec.index])
    try:
        if writer is not None:
            writer.__enter__()
        for t, (frame, truths) in enumerate(
            render_frames(
                list(spec.people), track, camera, spec.look, rng, field_halfwidth=halfwidth
            ),
            start=1,
        ):
            if img_dir is not None:
                ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, cfg.jpeg_quality])
                assert ok
                (img_dir / f"{t:06d}.jpg").write_bytes(buf.tobytes())
            if writer is not None:
                writer.write(frame)
            boxes = np.array([tr.box for tr in truths]).reshape(-1, 4)
            vis = np.array([tr.visibility for tr in truths])
            for tr in truths:
                gt_rows.append((t, int(local[tr.person]), *tr.box, 1, 1, round(tr.visibility, 3)))
            det_rows.append(
                noisy_detections(
                    t, boxes, vis, width=cfg.width, height=cfg.height, rng=det_rng, noise=cfg.noise
                )
            )
            if progress is not None:
                progress.update(1)
    except BaseException as err:
        if writer is not None:
            writer.__exit__(type(err), err, err.__traceback__)
        raise
    if writer is not None:
        writer.__exit__(None, None, None)
    gt = np.asarray(gt_rows, dtype=np.float64).reshape(-1, 9)
    det = np.concatenate(det_rows) if det_rows else np.zeros((0, 10))
    return SequenceResult(
        spec.name, gt, det, {p.gid: int(local[i]) for i, p in enumerate(spec.people)}
    )


def _config_digest(cfg: SyntheticConfig) -> str:
    return hashlib.sha256(
        json.dumps(asdict(cfg), sort_keys=True, default=str).encode()
    ).hexdigest()[:16]


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
    total = cfg.frames * len(specs)
    id_map: list[tuple[str, int, int]] = []
    with tqdm(total=total, desc="synthetic", unit="frame", disable=not progress) as bar:
        for spec in specs:
            seq_dir = root / spec.split / spec.name
            video = seq_dir / f"{spec.name}.mp4" if cfg.write_video else None
            res = render_sequence(spec, cfg, seq_dir, video_path=video, progress=bar)
            write_mot(seq_dir / "gt" / "gt.txt", _pad_gt(res.gt))
            write_mot(seq_dir / "det" / "det.txt", res.det)
            write_seqinfo(
                seq_dir / "seqinfo.ini",
                SeqInfo(spec.name, cfg.fps, cfg.frames, cfg.width, cfg.height),
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
) -> Path:
    """One clip for demos and ``make run``: ``sample.mp4`` with ``det.txt``, ``gt.txt``, ``identities.csv``."""
    out = Path(out_dir)
    cfg = replace(
        PRESETS["test"],
        frames=frames,
        kinds=(kind,),
        splits=("sample",),
        seqs_per_split=1,
        dancers=8,
        seed=seed,
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
    with tqdm(total=frames, desc=f"sample ({kind})", unit="frame", disable=not progress) as bar:
        res = render_sequence(spec, cfg, None, video_path=out / "sample.mp4", progress=bar)
    write_mot(out / "gt.txt", _pad_gt(res.gt))
    write_mot(out / "det.txt", res.det)
    people = [p for p in identities if p.gid in res.local_ids]
    _write_csv(out / "identities.csv", ATTRIBUTE_COLUMNS, [p.attribute_row() for p in people])
    atomic_write_json(stamp, {"digest": digest, "config": asdict(cfg)})
    return out


__all__ = [
    "COLORS",
    "PRESETS",
    "STAMP_NAME",
    "SequenceSpec",
    "SyntheticConfig",
    "generate_dataset",
    "generate_sample",
    "plan_dataset",
    "render_sequence",
]
