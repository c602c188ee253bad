"""benchmarks/real_clip_review.py: the moves it lists and the pictures it draws, on hand-made
tracks."""

from __future__ import annotations

import numpy as np

from benchmarks.real_clip import moves
from benchmarks.real_clip_review import TILE_HEIGHT, tile


def _rows(frames, tid, x=0.0):
    return np.array([[f, tid, x, 0, 10, 40, 1, -1, -1, -1] for f in frames], float)


def test_an_id_that_leaves_one_motion_track_for_another_is_a_move():
    motion = np.vstack([_rows(range(1, 21), 1), _rows(range(1, 21), 2, x=100.0)])
    # id 5 follows track 1 to frame 10, then takes track 2's person 100 px away
    run = np.vstack([_rows(range(1, 11), 5), _rows(range(11, 21), 5, x=100.0)])
    (move,) = moves(motion, run)
    assert (move["id"], move["from_track"], move["to_track"]) == (5, 1, 2)
    assert move["frames"] == [10, 11]
    assert move["jump_px"] == 100.0 and move["jump_heights"] == 2.5
    # one frame on the other track and back is not a move
    blip = np.vstack([_rows(range(1, 11), 5), _rows([11], 5, x=100.0), _rows(range(12, 21), 5)])
    assert moves(motion, blip) == []
    # an id that stays on its motion track makes none
    assert moves(motion, _rows(range(1, 21), 7)) == []


def test_a_tile_shows_both_frames_at_the_tile_height():
    frames = {f: np.zeros((360, 640, 3), np.uint8) for f in (10, 11)}
    move = {
        "id": 5,
        "from_track": 1,
        "to_track": 2,
        "frames": [10, 11],
        "boxes": [[100, 100, 20, 60], [300, 120, 20, 60]],
        "jump_px": 200.0,
    }
    out = tile(frames, move, 0)
    assert out.shape[0] == TILE_HEIGHT + 20 and out.shape[2] == 3
    assert (out[20:] != 0).any()  # the boxes are drawn
