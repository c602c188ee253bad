"""Frame rendering: background, depth-ordered people, ground-truth boxes and visibility.

People are painted far to near, so nearer people occlude farther ones. The same primitives are
painted into a label image (person index + 1 per pixel); a person's visibility is the share of
their own silhouette that survives in the label image, which accounts for both occlusion and
leaving the frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from cgclip.data.synthetic.motion import Camera, Track
from cgclip.data.synthetic.people import (
    Identity,
    Pose,
    draw_primitives,
    figure_primitives,
    primitives_extent,
)

# Stage/court/field looks: (floor near, floor far, line colour, backdrop).
SCENE_LOOKS = {
    "dance": ((70, 80, 105), (35, 40, 60), (150, 150, 160), (45, 25, 30)),
    "basketball": ((90, 150, 205), (60, 110, 160), (240, 240, 240), (60, 55, 50)),
    "soccer": ((60, 140, 50), (40, 100, 35), (235, 235, 235), (70, 80, 70)),
    "volleyball": ((120, 170, 210), (90, 130, 170), (245, 245, 245), (80, 70, 60)),
}


@dataclass(frozen=True)
class FrameTruth:
    """Ground truth of one person in one frame (pixel box ``x, y, w, h`` clipped to the image)."""

    person: int  # index into the sequence's people list
    box: tuple[float, float, float, float]
    visibility: float


def make_panorama(
    look: str, camera: Camera, field_halfwidth: float, rng: np.random.Generator
) -> tuple[np.ndarray, float]:
    """A background wider than the view, panned by slicing. Returns (image, world x at column 0)."""
    floor_near, floor_far, line, backdrop = SCENE_LOOKS[look]
    w, h = camera.width, camera.height
    pano_w = int(w * (2 * field_halfwidth + 1.0))
    img = np.empty((h, pano_w, 3), dtype=np.uint8)
    top = int(h * camera.horizon)
    img[:top] = backdrop
    ys = np.linspace(0.0, 1.0, h - top)[:, None]
    grad = (1 - ys) * np.array(floor_far) + ys * np.array(floor_near)
    img[top:] = grad[:, None, :].astype(np.uint8)
    # Texture that moves with the camera, so optical flow sees the pan: stripes and markings.
    if look == "soccer":
        for x0 in range(0, pano_w, w // 4):
            img[top:, x0 : x0 + w // 8] = np.clip(
                img[top:, x0 : x0 + w // 8].astype(np.int16) + 12, 0, 255
            ).astype(np.uint8)
    for x0 in range(0, pano_w, w // 2):
        cv2.line(img, (x0, top), (x0, h - 1), line, 2)
    cv2.line(img, (0, top + 2), (pano_w - 1, top + 2), line, 2)
    cv2.line(img, (0, h - 6), (pano_w - 1, h - 6), line, 2)
    # Crowd / backdrop speckles.
    n = pano_w * top // 60
    xs = rng.integers(0, pano_w, n)
    yy = rng.integers(0, max(top - 2, 1), n)
    cols = rng.integers(40, 200, (n, 3))
    for x, y, c in zip(xs, yy, cols, strict=True):
        cv2.circle(img, (int(x), int(y)), 2, tuple(int(v) for v in c), -1)
    return img, -field_halfwidth - 0.5


def render_frames(
    people: list[Identity],
    track: Track,
    camera: Camera,
    look: str,
    rng: np.random.Generator,
    *,
    field_halfwidth: float,
    fps: float = 25.0,
    paint: bool = True,
) -> Iterator[tuple[np.ndarray | None, list[FrameTruth]]]:
    """Yield ``(frame BGR (H, W, 3), ground truth)`` for every frame of the track.

    ``paint=False`` yields ``None`` frames: the label image (hence the truth) is still drawn, and
    the random draws are the same, so the truth is identical to a painted run.
    """
    pano, pano_x0 = make_panorama(look, camera, field_halfwidth, rng)
    w, h = camera.width, camera.height
    k = 25.0 / fps  # track speeds are per frame; limb motion is set per second (at 25 fps)
    # Limb cycle advances with distance travelled (running) plus a slow idle bob (dancing).
    phase = np.cumsum(track.speed, axis=0) * 28.0 + np.arange(len(track.speed))[:, None] * (
        0.12 * k
    )
    phase = phase + rng.uniform(0, 2 * np.pi, len(people))[None, :]
    label = np.zeros((h, w), dtype=np.uint8)
    for t in range(len(track.xz)):
        col = int(round((track.cam_x[t] - pano_x0 - 0.5) * w))
        col = int(np.clip(col, 0, pano.shape[1] - w))
        frame = pano[:, col : col + w].copy() if paint else None
        label.fill(0)
        x_img, y_img, h_img = camera.project(track.xz[t], float(track.cam_x[t]))
        order = np.argsort(track.xz[t, :, 1], kind="stable")  # far (small z) first
        drawn: list[tuple[int, list]] = []
        for i in order:
            if not track.present[t, i]:
                continue
            swing = float(np.clip(track.speed[t, i] * 70.0 / k, 0.15, 1.0))
            pose = Pose(
                x=float(x_img[i]),
                y=float(y_img[i]),
                h=float(h_img[i]),
                phase=float(phase[t, i]),
                swing=swing,
                arms_up=float(track.arms_up[t, i]),
                facing=int(track.facing[t, i]),
            )
            prims = figure_primitives(people[i], pose)
            ext = primitives_extent(prims)
            if ext[2] < 0 or ext[0] >= w or ext[3] < 0 or ext[1] >= h:
                continue  # entirely outside the view
            if frame is not None:
                draw_primitives(frame, prims)
            draw_primitives(label, prims, color=int(i) + 1)
            drawn.append((int(i), prims))
        truths = []
        for i, prims in drawn:
            truth = _truth_of(i, prims, label, w, h)
            if truth is not None:
                truths.append(truth)
        yield frame, truths


def _truth_of(i: int, prims: list, label: np.ndarray, w: int, h: int) -> FrameTruth | None:
    ext = primitives_extent(prims)
    x0, y0 = np.floor(ext[:2]).astype(int)
    x1, y1 = np.ceil(ext[2:]).astype(int)
    own = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    draw_primitives(own, prims, offset=np.array([x0, y0], dtype=np.float64), color=1)
    total = int(own.sum())
    if total == 0:
        return None
    ys, xs = np.nonzero(own)
    bx0, by0 = x0 + xs.min(), y0 + ys.min()
    bx1, by1 = x0 + xs.max() + 1, y0 + ys.max() + 1
    cx0, cy0, cx1, cy1 = max(bx0, 0), max(by0, 0), min(bx1, w), min(by1, h)
    if cx1 - cx0 < 2 or cy1 - cy0 < 2:
        return None
    visible = int(np.count_nonzero(label[cy0:cy1, cx0:cx1] == i + 1))
    if visible == 0:
        return None
    return FrameTruth(
        person=i,
        box=(float(cx0), float(cy0), float(cx1 - cx0), float(cy1 - cy0)),
        visibility=visible / total,
    )


def street_background(camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """A paved pedestrian street seen from above: tiles in perspective, kerb, benches, planters.

    ``(H, W, 3)`` BGR. Street furniture is painted flat into the background: it never occludes.
    """
    w, h = camera.width, camera.height
    tone = rng.integers(-15, 16)
    ys = np.linspace(0.0, 1.0, h)[:, None]
    far, near = np.array([120, 125, 130]) + tone, np.array([150, 155, 160]) + tone
    img = np.clip((1 - ys) * far + ys * near, 0, 255)[:, None, :].repeat(w, axis=1)
    img = img.astype(np.uint8)
    joint = (95 + int(tone), 100 + int(tone), 105 + int(tone))
    span = camera.near - camera.horizon
    for z in np.arange(0.0, 1.6, 0.1):  # tile rows: closer together further up
        y = int(h * (camera.horizon + span * z))
        if 0 <= y < h:
            cv2.line(img, (0, y), (w - 1, y), joint, 1)
    for x in np.arange(-3.0, 3.01, 0.25):  # tile columns converge towards the top
        p0 = camera.project(np.array([[x, 0.0]]), 0.0)
        p1 = camera.project(np.array([[x, 1.6]]), 0.0)
        cv2.line(img, (int(p0[0][0]), int(p0[1][0])), (int(p1[0][0]), int(p1[1][0])), joint, 1)
    kerb_y = max(2, int(h * camera.horizon))
    cv2.rectangle(img, (0, 0), (w - 1, kerb_y), (70, 72, 75), -1)  # road strip at the top
    cv2.line(img, (0, kerb_y), (w - 1, kerb_y), (200, 200, 200), 2)
    for _ in range(int(rng.integers(2, 6))):  # benches and planters along the street
        z = rng.uniform(0.15, 0.95)
        x_img, y_img, h_img = camera.project(np.array([[rng.uniform(-0.6, 0.6), z]]), 0.0)
        bw, bh = int(h_img[0] * rng.uniform(0.4, 0.9)), int(h_img[0] * rng.uniform(0.12, 0.25))
        x0, y0 = int(x_img[0]) - bw // 2, int(y_img[0]) - bh
        col = tuple(int(c) for c in rng.integers(30, 110, 3))
        cv2.rectangle(img, (x0, y0), (x0 + bw, y0 + bh), col, -1)
    return img
