"""World-space motion for the two scene kinds, and the camera.

World coordinates: ``x`` runs along the stage/field (arbitrary units, 1.0 = one view width at the
front), ``z`` is depth in ``[0, 1]`` (0 = far side, 1 = nearest the camera). A :class:`Track`
holds per-frame positions for every person plus a presence flag (a dancer off stage in the
wings), and :class:`Camera` maps world to image with a simple perspective: far people are
smaller, higher up, and horizontally compressed.

- ``dance``: formations (lines, V, rows, circle, diagonal) held for a few beats; at every change
  dancers are re-assigned to slots by a random permutation, so positions swap and paths cross.
  Now and then a dancer leaves to the wings and comes back.
- ``sports``: a ball that changes direction abruptly; the nearest players chase it, the rest keep
  formation spots relative to it, all with inertia (so turns are sudden but physical). The camera
  pans after the ball over a field twice the view width, so players leave and re-enter the frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Track:
    """Per-frame world motion of ``N`` people over ``T`` frames."""

    xz: np.ndarray  # (T, N, 2) world x and depth z
    speed: np.ndarray  # (T, N) world units per frame, drives the limb cycle
    facing: np.ndarray  # (T, N) +1 / -1
    present: np.ndarray  # (T, N) bool, False while off stage
    arms_up: np.ndarray  # (T, N) 0..1 dance arm raise
    cam_x: np.ndarray  # (T,) world x at the image centre


@dataclass(frozen=True)
class Camera:
    """Perspective mapping from world ``(x, z)`` to image feet position and body height."""

    width: int
    height: int
    horizon: float = 0.30  # image y of the far edge (fraction of height)
    near: float = 0.97  # image y of the near edge
    far_scale: float = 0.55  # size at z=0 relative to z=1
    body_frac: float = 0.36  # body height at z=1 as a fraction of image height

    def project(self, xz: np.ndarray, cam_x: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(N, 2)`` world points -> image x, image y (feet), body height in px (each ``(N,)``)."""
        z = xz[:, 1]
        scale = self.far_scale + (1.0 - self.far_scale) * z
        x_img = self.width / 2 + (xz[:, 0] - cam_x) * self.width * scale
        y_img = self.height * (self.horizon + (self.near - self.horizon) * z)
        h_img = self.height * self.body_frac * scale
        return x_img, y_img, h_img


def _smoothstep(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _formation(kind: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` slot positions on a stage spanning x in [-0.4, 0.4], z in [0.15, 0.95]."""
    idx = np.arange(n)
    if kind == 0:  # one line across
        pts = np.stack([np.linspace(-0.38, 0.38, n), np.full(n, 0.6)], axis=1)
    elif kind == 1:  # two rows, staggered
        row = idx % 2
        col = idx // 2
        ncol = (n + 1) // 2
        x = np.linspace(-0.34, 0.34, ncol)[col] + 0.08 * row
        pts = np.stack([x, np.where(row == 0, 0.35, 0.8)], axis=1)
    elif kind == 2:  # V shape
        off = idx - (n - 1) / 2
        pts = np.stack([off * 0.8 / n, 0.3 + 0.55 * np.abs(off) / (n / 2)], axis=1)
    elif kind == 3:  # circle
        ang = 2 * np.pi * idx / n
        pts = np.stack([0.3 * np.cos(ang), 0.55 + 0.35 * np.sin(ang)], axis=1)
    else:  # diagonal
        pts = np.stack([np.linspace(-0.36, 0.36, n), np.linspace(0.2, 0.92, n)], axis=1)
    pts = pts + rng.normal(0.0, 0.015, size=pts.shape)
    pts[:, 1] = np.clip(pts[:, 1], 0.12, 0.97)
    return pts


def dance_motion(n: int, frames: int, rng: np.random.Generator, *, fps: float = 25.0) -> Track:
    """Formation changes with position swaps and crossings; occasional exits to the wings."""
    beat = max(2, int(round(1.6 * fps)))  # 1.6 s at any frame rate
    xz = np.zeros((frames, n, 2))
    current = _formation(int(rng.integers(5)), n, rng)[rng.permutation(n)]
    t = 0
    while t < frames:
        hold = int(rng.integers(beat, 2 * beat))
        target = _formation(int(rng.integers(5)), n, rng)[rng.permutation(n)]
        move = int(hold * 0.6)
        for k in range(min(hold, frames - t)):
            a = _smoothstep(np.full(n, k / max(move, 1)))[:, None]
            xz[t + k] = (1 - a) * current + a * target
        current = target
        t += hold
    # Small in-place sway so dancers never freeze.
    tt = np.arange(frames)[:, None]
    sway = 0.012 * np.sin(2 * np.pi * tt / beat + rng.uniform(0, 2 * np.pi, n)[None, :])
    xz[:, :, 0] += sway
    present = np.ones((frames, n), dtype=bool)
    # Exits: a dancer walks to the nearest wing, stays off stage, then walks back to their slot.
    n_exits = max(1, int(frames // (8.0 * fps))) if n >= 4 else 0  # one per 8 s
    for _ in range(n_exits):
        who = int(rng.integers(n))
        start = int(rng.integers(frames // 6, max(frames // 6 + 1, frames - frames // 3)))
        walk, away = int(fps * 0.8), int(rng.integers(int(fps * 1.0), int(fps * 2.2)))
        wing = 0.85 * np.sign(xz[start, who, 0] + 1e-6)
        path = np.arange(frames)
        out_a = _smoothstep((path - start) / walk)
        back_a = _smoothstep((path - start - walk - away) / walk)
        a = np.clip(out_a - back_a, 0.0, 1.0)
        xz[:, who, 0] = (1 - a) * xz[:, who, 0] + a * wing
        present[:, who] &= a < 0.999
    beat_phase = 2 * np.pi * np.arange(frames) / beat
    arms_up = np.clip(np.sin(beat_phase)[:, None] + rng.normal(0, 0.15, (1, n)), 0, 1) ** 2
    cam_x = 0.03 * np.sin(2 * np.pi * np.arange(frames) / (frames + 1))
    return _finish(xz, present, arms_up, cam_x)


def sports_motion(
    n_per_team: int, frames: int, rng: np.random.Generator, *, fps: float = 25.0
) -> Track:
    """Two teams pursuing a ball with sudden turns; the camera pans over a field 2 views wide.

    Speeds are set per frame at 25 fps and scaled by ``k = 25 / fps`` (accelerations by ``k**2``),
    so a player covers the same ground per second at any frame rate.
    """
    n = 2 * n_per_team
    k = 25.0 / fps
    half_field = 1.0
    ball = np.array([0.0, 0.55])
    ball_v = np.zeros(2)
    pos = np.stack([rng.uniform(-0.8, 0.8, n), rng.uniform(0.1, 0.95, n)], axis=1)
    vel = np.zeros((n, 2))
    # Formation spot of each player relative to the ball; team 0 to its left, team 1 right.
    team = np.repeat([0, 1], n_per_team)
    spots = np.stack(
        [rng.uniform(0.05, 0.6, n) * np.where(team == 0, -1, 1), rng.uniform(-0.35, 0.35, n)],
        axis=1,
    )
    vmax = rng.uniform(0.011, 0.017, n) * k  # 0.011..0.017 per frame at 25 fps
    amax = vmax * 0.18 * k
    xz = np.zeros((frames, n, 2))
    cam = np.zeros(frames)
    cam_x = 0.0
    next_turn = 0
    for t in range(frames):
        if t >= next_turn:  # the ball changes direction abruptly
            ang = rng.uniform(0, 2 * np.pi)
            ball_v = (rng.uniform(0.006, 0.02) * k) * np.array([np.cos(ang), 0.45 * np.sin(ang)])
            next_turn = t + int(rng.integers(int(0.5 * fps), int(1.6 * fps)))
        ball = ball + ball_v
        for axis, lo, hi in ((0, -half_field, half_field), (1, 0.12, 0.97)):
            if not lo <= ball[axis] <= hi:
                ball_v[axis] = -ball_v[axis]
                ball[axis] = np.clip(ball[axis], lo, hi)
        dist = np.linalg.norm(pos - ball, axis=1)
        chasers = set()
        for k in (0, 1):  # the nearest player of each team chases the ball
            members = np.flatnonzero(team == k)
            chasers.add(int(members[np.argmin(dist[members])]))
        target = ball + spots
        for c in chasers:
            target[c] = ball
        desired = target - pos
        norm = np.linalg.norm(desired, axis=1, keepdims=True)
        desired = desired / np.maximum(norm, 1e-9) * np.minimum(norm * k, vmax[:, None] * 3)
        desired = np.clip(desired, -vmax[:, None], vmax[:, None])
        dv = desired - vel
        dv_norm = np.linalg.norm(dv, axis=1, keepdims=True)
        vel = vel + dv / np.maximum(dv_norm, 1e-9) * np.minimum(dv_norm, amax[:, None])
        pos = pos + vel
        pos[:, 0] = np.clip(pos[:, 0], -half_field - 0.1, half_field + 0.1)
        pos[:, 1] = np.clip(pos[:, 1], 0.08, 0.98)
        xz[t] = pos
        # The camera follows the ball with lag and a dead zone, like a broadcast operator.
        err = ball[0] - cam_x
        if abs(err) > 0.12:
            cam_x += 0.06 * k * (err - np.sign(err) * 0.12)
        cam_x = float(np.clip(cam_x, -half_field + 0.5, half_field - 0.5))
        cam[t] = cam_x
    present = np.ones((frames, n), dtype=bool)
    arms_up = np.zeros((frames, n))
    return _finish(xz, present, arms_up, cam)


def _finish(xz: np.ndarray, present: np.ndarray, arms_up: np.ndarray, cam_x: np.ndarray) -> Track:
    step = np.diff(xz, axis=0, prepend=xz[:1])
    speed = np.linalg.norm(step, axis=2)
    facing = np.where(step[:, :, 0] >= 0, 1, -1)
    # Keep the last facing while nearly still, so figures do not flicker left/right.
    for t in range(1, len(facing)):
        still = np.abs(step[t, :, 0]) < 1e-4
        facing[t, still] = facing[t - 1, still]
    return Track(
        xz=xz,
        speed=speed,
        facing=facing,
        present=present,
        arms_up=arms_up,
        cam_x=np.asarray(cam_x, dtype=np.float64),
    )
