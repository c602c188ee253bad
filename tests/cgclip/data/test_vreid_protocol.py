"""The sports/dance evaluation protocol on small hand-written indexes (no images needed).

Tracklets are written straight into ``index.json``; the expected queries and ignore masks below
are worked out by hand from their frame ranges.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cgclip.data import load_dataset
from cgclip.errors import UserError


def write_index(root: Path, tracklets: list[tuple[str, str, int, int, int, int]]) -> Path:
    """tracklets: (name, seq, camid, pid, first frame, last frame); all in the val split."""
    root.mkdir(parents=True, exist_ok=True)
    recs = [
        {
            "split": "val",
            "seq": seq,
            "track": pid,
            "pid": pid,
            "camid": cam,
            "frames": list(range(a, b + 1)),
        }
        for _name, seq, cam, pid, a, b in tracklets
    ]
    recs.append({"split": "train", "seq": "t", "track": 1, "pid": 99, "camid": 9, "frames": [1, 2]})
    index = {"format": "cgclip-vreid", "version": 1, "options": {"max_len": 50}, "tracklets": recs}
    (root / "index.json").write_text(json.dumps(index))
    return root


SINGLE_VIDEO_IDS = [
    ("A", "s1", 0, 1, 1, 50),
    ("B", "s1", 0, 1, 51, 100),  # adjacent to A: 0 frames between
    ("C", "s1", 0, 1, 201, 250),  # 150 frames after A, 100 after B
    ("D", "s1", 0, 2, 1, 50),
    ("E", "s1", 0, 2, 60, 100),  # 9 frames after D
    ("F", "s2", 1, 3, 1, 50),  # alone
]


def test_temporal_protocol_ignores_adjacent_pieces(tmp_path: Path) -> None:
    root = write_index(tmp_path / "t", SINGLE_VIDEO_IDS)
    ds = load_dataset("sportsvreid", root)  # auto: no identity spans two videos -> temporal
    assert [t.pid for t in ds.train] == [99]
    assert [(t.pid, t.start) for t in ds.gallery] == [
        (1, 1),
        (1, 51),
        (1, 201),
        (2, 1),
        (2, 60),
        (3, 1),
    ]
    # default min_gap = 2 * max_len = 100: A's valid match is C only; pid 2 and 3 have none
    assert [(t.pid, t.start) for t in ds.query] == [(1, 1)]
    np.testing.assert_array_equal(ds.ignore_mask(), [[True, True, False, False, False, False]])

    ds = load_dataset("sportsvreid", root, min_gap=5)  # now E (9 frames from D) counts too
    assert [(t.pid, t.start) for t in ds.query] == [(1, 1), (2, 1)]
    np.testing.assert_array_equal(
        ds.ignore_mask(),
        [[True, True, False, False, False, False], [False, False, False, True, False, False]],
    )
    assert load_dataset("sportsvreid", root, min_gap=151).query == []  # A-C is 150 frames apart


CROSS_VIDEO_IDS = [
    ("A", "s1", 0, 1, 1, 50),
    ("B", "s1", 0, 1, 51, 100),
    ("C", "s1", 0, 1, 101, 150),
    ("D", "s1", 0, 2, 1, 50),
    ("G", "s2", 1, 1, 1, 50),
]


def test_cross_video_protocol_one_middle_query_per_identity_and_video(tmp_path: Path) -> None:
    root = write_index(tmp_path / "x", CROSS_VIDEO_IDS)
    ds = load_dataset("dancevreid", root)  # auto: pid 1 is in s1 and s2 -> cross-video
    assert [(t.pid, t.seq, t.start) for t in ds.query] == [(1, "s1", 51), (1, "s2", 1)]
    assert ds.ignore is None
    # every same-video piece of the query's identity is ignored; only G (resp. A, B, C) matches
    np.testing.assert_array_equal(
        ds.ignore_mask(),
        [[True, True, True, False, False], [False, False, False, False, True]],
    )
    temporal = load_dataset("dancevreid", root, protocol="temporal")
    assert [(t.pid, t.seq, t.start) for t in temporal.query] == [(1, "s1", 1), (1, "s2", 1)]
    # same video: B is adjacent (ignored), C is 50 frames after A (< 100, ignored); G counts
    np.testing.assert_array_equal(
        temporal.ignore_mask(),
        [[True, True, True, False, False], [False, False, False, False, True]],
    )


def test_protocol_options_are_checked(tmp_path: Path) -> None:
    root = write_index(tmp_path / "o", CROSS_VIDEO_IDS)
    with pytest.raises(UserError, match=r"protocol must be one of auto, cross-video, temporal"):
        load_dataset("sportsvreid", root, protocol="random")
    with pytest.raises(UserError, match=r"min_gap must be >= 0 frames"):
        load_dataset("sportsvreid", root, min_gap=-1)
    with pytest.raises(
        UserError, match=r"no tracklets in split 'train2' nor 'test' \(built: \['train', 'val'\]\)"
    ):
        load_dataset("sportsvreid", root, train_split="train2", eval_split="test")
