"""A street sequence end to end: the walks and pedestrians of one split, then each frame's
picture (optional) and ground truth. The walkers themselves are :mod:`.street`; the truth from
silhouette templates is :mod:`.truth`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from cgclip.data.synthetic.people import Identity
from cgclip.data.synthetic.render import FrameTruth, street_background
from cgclip.data.synthetic.street import (
    StreetPlan,
    assign_identities,
    make_pedestrians,
    plan_street,
    sample_walkers,
    street_camera,
)
from cgclip.data.synthetic.truth import paint_street_frame, pose_keys, street_truth


def plan_street_split(
    *,
    seed: int,
    split_index: int,
    split: str,
    count: int,
    walkers: tuple[int, int],
    seconds: float,
    size: tuple[int, int],
    first_index: int,
    first_gid: int,
    lookalike_share: float,
) -> tuple[list[tuple[StreetPlan, tuple[Identity, ...]]], list[Identity]]:
    """``count`` street sequences of one split: ``([(walks, people)], the split's pedestrian
    pool)``. Densities are spread geometrically over ``walkers`` (lowest, highest); sequence
    ``i`` is seeded by ``first_index + i``, so the plan does not depend on other kinds."""
    camera = street_camera(*size)
    lo, hi = walkers
    densities = np.geomspace(lo, hi, count) if count > 1 else np.array([np.sqrt(lo * hi)])
    plans = [
        plan_street(
            float(densities[i]),
            seconds,
            camera,
            np.random.default_rng([seed, 3000 + first_index + i]),
        )
        for i in range(count)
    ]
    rng = np.random.default_rng([seed, 8, split_index])
    picks, pool_size = assign_identities([len(p.walkers) for p in plans], 1, rng)
    pool = make_pedestrians(
        rng, first_gid=first_gid, size=pool_size, split=split, lookalike_share=lookalike_share
    )
    walks = [(plan, tuple(pool[j] for j in pick)) for plan, pick in zip(plans, picks, strict=True)]
    return walks, pool


def street_frames(
    plan: StreetPlan,
    people: list[Identity],
    *,
    size: tuple[int, int],
    fps: float,
    n_frames: int,
    rng: np.random.Generator,
    paint: bool,
) -> Iterator[tuple[np.ndarray | None, list[FrameTruth]]]:
    """Frames (``None`` unless ``paint``) and truth of a street sequence (truth from templates)."""
    width, height = size
    camera = street_camera(width, height)
    times = np.arange(n_frames) / fps
    xz, present, walking, phase, facing = sample_walkers(plan.walkers, times, plan.x_metres)
    nt, n = present.shape
    x_img, y_img, h_img = camera.project(xz.reshape(-1, 2), 0.0)
    feet = np.stack([x_img, y_img], axis=1).reshape(nt, n, 2)
    body_h = h_img.reshape(nt, n)
    keys, bins = pose_keys(people, facing, walking, phase)
    rows = street_truth(people, feet, body_h, xz[..., 1], present, keys, width, height)
    by_frame: list[list[FrameTruth]] = [[] for _ in range(nt)]
    for t, i, x, y, w, h, v in rows:
        by_frame[int(t) - 1].append(FrameTruth(int(i), (x, y, w, h), float(v)))
    background = street_background(camera, rng) if paint else None
    for t in range(nt):
        frame = None
        if background is not None:
            frame = background.copy()
            paint_street_frame(
                frame,
                people,
                feet[t],
                body_h[t],
                xz[t, :, 1],
                present[t],
                walking[t],
                facing[t],
                bins[t],
            )
        yield frame, by_frame[t]
