"""The appearance benchmark's feature cache: replaying cached CG-CLIP features must give exactly
the tracks a live ``CgclipEmbedder`` run gives, and the search driver must respect its budget."""

from __future__ import annotations

import json

import numpy as np

from benchmarks.tracker_embed_cache import (
    ReplayEmbedder,
    cache_key,
    checkpoint_digest,
    ensure_cache,
    load_embedder,
    track_sequence_replayed,
)
from benchmarks.tracker_search import search
from cgclip.io.mot import read_seqinfo
from tracker import CgclipEmbedder, Tracker, load_preset
from tracker.detectors import ReplayDetector
from tracker.outputs import MotRows
from tracker.pipeline import iter_tracked, open_source


def _live(seq, config, embedder) -> np.ndarray:
    """The live path: decoded frames, the real embedder, rows as the MOT sink writes them."""
    source = open_source(seq / "img1")
    tracker = Tracker(config, embedder=embedder, frame_rate=source.fps)
    rows = MotRows()
    detector = ReplayDetector(seq / "det" / "det.txt")
    for result in iter_tracked(source, detector, tracker, sinks=[rows]):
        assert result.frame is not None and result.frame.ndim == 3  # real pixels reach the model
    return rows.rows


def test_replayed_features_reproduce_the_live_run(synthetic_root, tiny_checkpoint, tmp_path):
    import cgclip

    split = synthetic_root / "val"
    seq = sorted(d for d in split.iterdir() if d.name.startswith("dance"))[0]
    cache = ensure_cache(split, tiny_checkpoint, tmp_path / "cache", seqs=[seq.name])
    assert sorted(p.name for p in cache.iterdir()) == [f"{seq.name}.npz", f"{seq.name}.tokens.npy"]
    mtime = (cache / f"{seq.name}.npz").stat().st_mtime_ns
    again = ensure_cache(split, tiny_checkpoint, tmp_path / "cache", seqs=[seq.name])
    assert again == cache  # cached: not embedded again
    assert (cache / f"{seq.name}.npz").stat().st_mtime_ns == mtime

    embedder = CgclipEmbedder(cgclip.load_model(tiny_checkpoint))
    config = load_preset("dance", reid_thresh=0.3, appearance_gate=0.5)
    live = _live(seq, config, embedder)
    replayed = track_sequence_replayed(seq, config, cache, embedder)
    assert len(live) == len(replayed) > 0.5 * read_seqinfo(seq).seq_length
    assert np.array_equal(live[:, :2], replayed[:, :2])  # same frames, same ids
    assert np.allclose(live[:, 2:], replayed[:, 2:], atol=1e-3)  # same boxes and confidences
    assert (np.diff(live[:, 0]) >= 0).all()  # backfilled rows are in frame order

    replay = ReplayEmbedder(cache / f"{seq.name}.npz", embedder)
    replay.at(1)
    boxes = replay.boxes[replay.frames == 1]
    assert np.array_equal(replay.rows(boxes[::-1]), np.flatnonzero(replay.frames == 1)[::-1])


def test_search_spends_exactly_the_budget_and_keeps_the_best():
    calls = []

    def score(cands):
        calls.append(len(cands))
        return [-((c.get("a", 0) - 3) ** 2) - c.get("b", 0) for c in cands]

    out = search(score, {"a": [0, 1, 2, 3, 4], "b": [0, 1]}, trials=6, refine=3, seed=1)
    assert calls == [6, 4, 4, 4] and out["trials"] == 18
    assert out["score"] == max(h["score"] for h in out["history"])
    assert out["start_score"] == -9  # trial 0 is the starting point (here: no knobs set)


def test_cache_key_and_windows_follow_the_embedding_parts(tiny_checkpoint):
    """The cache folder names the embedding parts, and an ``s`` override makes windows keep every
    token (TFE reads them) while the default ``f`` keeps only CLS."""
    default = load_embedder(tiny_checkpoint)
    tfe = load_embedder(tiny_checkpoint, embedding=("f", "s"))
    assert cache_key(tiny_checkpoint, default).endswith("-f")
    assert cache_key(tiny_checkpoint, tfe).endswith("-f+s")
    assert cache_key(tiny_checkpoint, default).split("-")[0] == checkpoint_digest(tiny_checkpoint)
    frame = np.zeros((120, 160, 3), np.uint8)
    box = np.array([[10, 10, 40, 100]], np.float32)
    assert default.embed_frame(frame, box).features.shape[1] == 1
    assert tfe.embed_frame(frame, box).features.shape[1] == tfe.model.config.tokens_per_frame > 1


def test_appearance_rerun_reuses_tuning_only_for_identical_settings(tmp_path):
    from benchmarks.tracker_appearance import _previous_tuning

    result = {
        "data": "d",
        "budget": {"trials": 2},
        "tune_split": "train",
        "seed": 0,
        "checkpoint": {"digest": "abc", "embedding": ["f"]},
        "boxmot": "25.0.0",
    }
    out = tmp_path / "r.json"
    assert _previous_tuning(out, result) == {}  # no earlier run
    ours = {"params": {"reid_thresh": 0.1}, "score": 1.0}
    tuning = {"ours": ours, "botsort": {"params": {"track_buffer": 30}, "score": 0.5}}
    out.write_text(json.dumps({**result, "kinds": {"dance": {"tuning": tuning}}}))
    assert _previous_tuning(out, result) == {"dance": tuning}
    # Another BoxMOT: the peer is tuned again, ours is kept.
    assert _previous_tuning(out, {**result, "boxmot": "26.0.0"}) == {"dance": {"ours": ours}}
    # A run from before the version was recorded used the pinned one.
    legacy = {k: v for k, v in result.items() if k != "boxmot"}
    out.write_text(json.dumps({**legacy, "kinds": {"dance": {"tuning": tuning}}}))
    assert _previous_tuning(out, result) == {"dance": tuning}
    for changed in (
        {"seed": 1},
        {"budget": {"trials": 3}},
        {"checkpoint": {"digest": "abd", "embedding": ["f"]}},
        {"checkpoint": {"digest": "abc", "embedding": ["s"]}},
    ):
        assert _previous_tuning(out, {**result, **changed}) == {}


def test_our_tuning_is_not_reused_once_the_preset_under_it_changed():
    from benchmarks.tracker_appearance import _preset, _still_valid

    peer = {"params": {"track_buffer": 30}}
    ours = {"params": {"reid_thresh": 0.1}, "preset": _preset("dance")}
    saved = json.loads(json.dumps({"ours": ours, "botsort": peer}))  # as read from the JSON
    assert _still_valid(saved, "dance") == saved
    moved = {
        **ours,
        "preset": {**ours["preset"], "trust_floor": ours["preset"]["trust_floor"] + 0.05},
    }
    assert _still_valid({"ours": moved, "botsort": peer}, "dance") == {"botsort": peer}
    unrecorded = {"params": ours["params"]}  # written before presets were recorded
    assert _still_valid({"ours": unrecorded}, "dance") == {}
