"""The ``street`` scene kind: pedestrians seen by a static, elevated camera.

- The camera never moves; the ground runs from the top edge of the image (far, people ~0.09 of
  the image height) to below the bottom edge (near, ~0.26), so people are smaller further up.
- People walk through the view on nearly straight paths between two points outside it: they
  enter and leave anywhere along the four borders, which makes many short tracks.
- Some walk in small groups (side by side), and groups stop for a while to talk (facing each
  other); a few single people stop too.
- The number of people in view is a target density: arrivals are a Poisson stream whose rate
  keeps ``density`` people in view on average, after a burn-in so the scene starts full.

Everything is planned in seconds and metres (walking speed ~1.34 m/s, the comfortable gait speed
of adults, Bohannon 1997) and only sampled at the frame rate, so one seed gives the same walk at
any ``fps``: the displacement per frame shrinks as the frame rate grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cgclip.data.synthetic.motion import Camera
from cgclip.data.synthetic.people import COLORS, HAIR_COLORS, SHOE_COLORS, SOCK_COLORS, Identity

PERSON_M = 1.7  # metres: body height at scale 1 (camera.body_frac of the image height)
DEPTH_M = 15.0  # metres of ground from z=0 (top edge) to z=1
STRIDE_M = 1.4  # metres per gait cycle (two steps)
BURN_IN_S = 45.0  # longest walk: arrivals start this long before frame 1
TOPS = [c for c in COLORS if c != "gray"] + ["gray"]
PANTS = ["navy", "black", "gray", "blue", "white", "maroon", "teal"]


def street_camera(width: int, height: int) -> Camera:
    """Elevated fixed view: the far edge at the top of the image, mild perspective."""
    return Camera(width, height, horizon=0.04, near=0.96, far_scale=0.35, body_frac=0.26)


@dataclass(frozen=True)
class Walker:
    """One person's walk: a path in metres (ground ``X`` lateral, ``Z`` depth), times in seconds."""

    unit: int  # walkers of one group share the unit number
    path: np.ndarray  # (K, 2) polyline X, Z in metres, both ends outside the view
    offset: np.ndarray  # (2,) metres, constant offset from the path (side by side in a group)
    start: float  # seconds since frame 1 when the walk begins (negative: already walking)
    speed: float  # m/s
    stop_at: float  # metres along the path where the walker stops (inf: never)
    stop_s: float  # seconds stopped
    talks: bool  # stopped to talk: faces the group instead of the path
    phase0: float  # gait phase at the start, radians

    @property
    def length(self) -> float:
        return float(np.sum(np.linalg.norm(np.diff(self.path, axis=0), axis=1)))

    @property
    def end(self) -> float:
        stop = self.stop_s if np.isfinite(self.stop_at) else 0.0
        return self.start + self.length / self.speed + stop


@dataclass(frozen=True)
class StreetPlan:
    """The walks of one sequence (only walkers visible at some frame are kept)."""

    walkers: tuple[Walker, ...]
    density: float
    x_metres: float  # metres per world x unit (depends on the aspect ratio)


def _x_metres(camera: Camera) -> float:
    return PERSON_M * camera.width / (camera.body_frac * camera.height)


def _z_range(camera: Camera) -> tuple[float, float]:
    """Depths whose feet are at the top edge, and whose head has left at the bottom edge."""
    span = camera.near - camera.horizon
    top = -camera.horizon / span
    # Below the bottom edge by a full body height (scale grows with z: solve approximately).
    z = (1.0 - camera.horizon) / span
    for _ in range(4):
        scale = camera.far_scale + (1.0 - camera.far_scale) * z
        z = (1.0 + camera.body_frac * scale * 1.15 - camera.horizon) / span
    return top, z


def _border_point(side: str, camera: Camera, xm: float, rng: np.random.Generator) -> np.ndarray:
    """A ground point (metres) just outside the view on ``side``."""
    top, bottom = _z_range(camera)

    def half_width(z: float) -> float:  # world x of the image edge at depth z, plus a body
        scale = camera.far_scale + (1.0 - camera.far_scale) * z
        return 0.5 / scale + 0.35 * camera.body_frac * camera.height / camera.width

    if side in ("left", "right"):
        z = rng.uniform(top + 0.03, 1.0)
        x = half_width(z) * (-1.0 if side == "left" else 1.0)
    else:
        z = top - 0.02 if side == "top" else bottom
        x = rng.uniform(-0.85, 0.85) * (half_width(z) - 0.1)
    return np.array([x * xm, z * DEPTH_M])


SIDES = ("left", "right", "top", "bottom")
ENTRY_P = (0.3, 0.3, 0.2, 0.2)  # people walk along the street more than across it
OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}


def _unit(unit: int, start: float, camera: Camera, xm: float, rng: np.random.Generator):
    """Walkers of one unit (a single person or a group of 2-4 walking together)."""
    size = int(rng.choice([1, 2, 3, 4], p=[0.62, 0.26, 0.09, 0.03]))
    entry = str(rng.choice(SIDES, p=ENTRY_P))
    others = [s for s in SIDES if s != entry]
    p_exit = [0.6 if s == OPPOSITE[entry] else 0.2 for s in others]
    exit_ = str(rng.choice(others, p=p_exit))
    a, b = _border_point(entry, camera, xm, rng), _border_point(exit_, camera, xm, rng)
    d = b - a
    normal = np.array([-d[1], d[0]]) / max(float(np.linalg.norm(d)), 1e-9)
    mid = (a + b) / 2 + normal * rng.normal(0.0, 0.08) * np.linalg.norm(d)
    path = np.stack([a, mid, b])
    speed = float(np.clip(rng.normal(1.34, 0.18), 0.8, 1.9)) * (0.9 if size > 1 else 1.0)
    length = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))
    talks = size > 1 and rng.random() < 0.4
    stops = talks or rng.random() < 0.08
    stop_at = float(rng.uniform(0.3, 0.7) * length) if stops else float("inf")
    stop_s = float(rng.uniform(3.0, 12.0) if talks else rng.uniform(2.0, 6.0)) if stops else 0.0
    side = (np.arange(size) - (size - 1) / 2) * 0.6  # metres apart, side by side
    along = rng.normal(0.0, 0.15, size)
    direction = d / max(float(np.linalg.norm(d)), 1e-9)
    return [
        Walker(
            unit=unit,
            path=path,
            offset=side[i] * normal + along[i] * direction,
            start=start + float(rng.uniform(0.0, 0.3)),
            speed=speed,
            stop_at=stop_at,
            stop_s=stop_s,
            talks=talks,
            phase0=float(rng.uniform(0, 2 * np.pi)),
        )
        for i in range(size)
    ]


def plan_street(
    density: float, seconds: float, camera: Camera, rng: np.random.Generator
) -> StreetPlan:
    """Walks keeping about ``density`` people in view during ``seconds`` (burn-in included)."""
    xm = _x_metres(camera)
    # Arrival rate from the mean people-seconds of a unit (estimated on a throw-away sample).
    probe = [w for u in range(48) for w in _unit(u, 0.0, camera, xm, rng)]
    person_s = 0.0
    for w in probe:  # seconds in view, sampled at 5 Hz
        times = np.arange(w.start, w.end, 0.2)
        xz, present, *_ = sample_walkers([w], times, xm)
        person_s += 0.2 * float(_in_view(xz[:, 0], present[:, 0], camera).sum())
    person_s /= 48.0
    rate = density / max(person_s, 1e-6)
    walkers: list[Walker] = []
    t, unit = -BURN_IN_S, 0
    while True:
        t += float(rng.exponential(1.0 / rate))
        if t >= seconds:
            break
        walkers += _unit(unit, t, camera, xm, rng)
        unit += 1
    # Keep walkers visible at some time in [0, seconds] (sampled at 5 Hz).
    times = np.arange(0.0, seconds + 1e-9, 0.2)
    kept = []
    for w in walkers:
        if w.end < 0.0 or w.start > seconds:
            continue
        xz, present, *_ = sample_walkers([w], times, xm)
        if _in_view(xz[:, 0], present[:, 0], camera).any():
            kept.append(w)
    return StreetPlan(tuple(kept), float(density), xm)


def _in_view(xz: np.ndarray, present: np.ndarray, camera: Camera) -> np.ndarray:
    """``(T, 2)`` world positions -> ``(T,)`` whether a person-sized box overlaps the image."""
    x_img, y_img, h_img = camera.project(xz, 0.0)
    half = 0.2 * h_img
    return (
        present
        & (x_img + half > 0)
        & (x_img - half < camera.width)
        & (y_img > 0)
        & (y_img - 1.1 * h_img < camera.height)
    )


def sample_walkers(
    walkers: list[Walker] | tuple[Walker, ...], times: np.ndarray, x_metres: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Walks sampled at ``times`` (seconds, ``(T,)``).

    Returns world ``xz`` ``(T, N, 2)``, ``present`` ``(T, N)``, ``walking`` ``(T, N)`` bool,
    gait ``phase`` ``(T, N)`` radians and ``facing`` ``(T, N)`` (+1 right, -1 left).
    """
    n, nt = len(walkers), len(times)
    xz = np.zeros((nt, n, 2))
    present = np.zeros((nt, n), dtype=bool)
    walking = np.zeros((nt, n), dtype=bool)
    phase = np.zeros((nt, n))
    facing = np.ones((nt, n), dtype=int)
    for i, w in enumerate(walkers):
        tau = times - w.start
        dist = tau * w.speed
        if np.isfinite(w.stop_at):
            t_stop = w.stop_at / w.speed
            dist = np.where(tau < t_stop, dist, np.maximum(w.stop_at, (tau - w.stop_s) * w.speed))
        present[:, i] = (tau >= 0.0) & (dist <= w.length)
        walking[:, i] = present[:, i] & ~(np.isclose(dist, w.stop_at) & (dist < w.length))
        dist = np.clip(dist, 0.0, w.length)
        seg = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(w.path, axis=0), axis=1))]
        ground = np.stack(
            [np.interp(dist, seg, w.path[:, 0]), np.interp(dist, seg, w.path[:, 1])], axis=1
        )
        ground = ground + w.offset
        xz[:, i, 0] = ground[:, 0] / x_metres
        xz[:, i, 1] = ground[:, 1] / DEPTH_M
        phase[:, i] = w.phase0 + 2 * np.pi * dist / STRIDE_M
        step = w.path[-1, 0] - w.path[0, 0]
        facing[:, i] = 1 if step >= 0 else -1
    # Talking groups face their centre while stopped.
    units = np.array([w.unit for w in walkers])
    for i, w in enumerate(walkers):
        if not w.talks:
            continue
        mates = np.flatnonzero(units == w.unit)
        centre = xz[:, mates, 0].mean(axis=1)
        stopped = present[:, i] & ~walking[:, i]
        toward = np.where(centre >= xz[:, i, 0], 1, -1)
        facing[stopped, i] = toward[stopped]
    return xz, present, walking, phase, facing


def make_pedestrians(
    rng: np.random.Generator, *, first_gid: int, size: int, split: str, lookalike_share: float
) -> list[Identity]:
    """``size`` passers-by in varied clothes; ``lookalike_share`` of them come in near-identical
    pairs that differ in one small detail (shoes, socks or hair colour).

    ``group`` names the outfit: the two people of a look-alike pair share it.
    """
    people: list[Identity] = []
    outfit = 0
    while len(people) < size:
        gender = str(rng.choice(["woman", "man"]))
        styles = (
            ("long", "bun", "ponytail", "short")
            if gender == "woman"
            else ("short", "buzz", "short", "long")
        )
        person = Identity(
            gid=first_gid + len(people),
            scene="street",
            group=f"outfit-{split}-{outfit}",
            gender=gender,
            uniform=str(rng.choice(TOPS)),
            pants=str(rng.choice(PANTS)),
            number=None,
            hair_style=str(rng.choice(styles)),
            hair_color=str(rng.choice(list(HAIR_COLORS))),
            skin=str(rng.choice(["light", "medium", "tan", "dark"])),
            shoes=str(rng.choice(SHOE_COLORS)),
            socks=str(rng.choice(SOCK_COLORS)),
            height=float(np.round(rng.uniform(0.88, 1.10), 2)),
        )
        people.append(person)
        outfit += 1
        if len(people) < size and rng.random() < lookalike_share / (2 - lookalike_share):
            detail = str(rng.choice(["shoes", "socks", "hair_color"]))
            pool = {"shoes": SHOE_COLORS, "socks": SOCK_COLORS, "hair_color": list(HAIR_COLORS)}
            other = str(rng.choice([c for c in pool[detail] if c != getattr(person, detail)]))
            twin = dict(person.__dict__, gid=first_gid + len(people), **{detail: other})
            twin["height"] = float(np.round(person.height + rng.choice([-0.01, 0.0, 0.01]), 2))
            people.append(Identity(**twin))
    return people


def assign_identities(
    counts: list[int], pool: int, rng: np.random.Generator
) -> tuple[list[list[int]], int]:
    """Indices into a pool for sequences needing ``counts`` people each (no repeat within one).

    The pool is as large as the busiest sequence; every sequence takes the least used identities
    first, so identities recur across the split's sequences as much as the counts allow.
    """
    size = max(max(counts, default=0), pool)
    used = np.zeros(size, dtype=int)
    out = []
    for n in counts:
        order = np.lexsort((rng.random(size), used))[:n]
        used[order] += 1
        out.append([int(i) for i in rng.permutation(order)])
    return out, size
