"""Synthetic people: look-alike identities and an articulated figure drawn with OpenCV.

Teams (sports) and troupes (dance) share one uniform, so identities inside a group differ only in
small details: a jersey number, shoe or sock colour, hair style and colour, skin tone and height,
which is exactly what makes SportsMOT and DanceTrack hard for re-identification.

A figure is drawn from a :class:`Pose` (feet position, body height in pixels, limb phase) as a
list of OpenCV primitives, so the same list paints the RGB frame and the per-person label mask
used for occlusion-aware visibility.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

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

# Named colours (BGR) so attributes read like Table S.1 of the CG-CLIP supplement.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (40, 40, 200),
    "blue": (190, 90, 30),
    "navy": (90, 40, 20),
    "yellow": (40, 210, 230),
    "green": (60, 150, 40),
    "white": (235, 235, 235),
    "black": (25, 25, 25),
    "gray": (140, 140, 140),
    "orange": (30, 130, 240),
    "purple": (140, 50, 120),
    "pink": (180, 140, 240),
    "sky blue": (230, 190, 120),
    "maroon": (40, 20, 110),
    "teal": (140, 140, 20),
}
HAIR_COLORS: dict[str, tuple[int, int, int]] = {
    "black": (20, 20, 25),
    "brown": (30, 60, 100),
    "blond": (90, 180, 220),
    "red": (30, 60, 170),
    "gray": (160, 160, 165),
}
SKIN_TONES: dict[str, tuple[int, int, int]] = {
    "light": (170, 190, 230),
    "medium": (120, 150, 200),
    "tan": (90, 125, 175),
    "dark": (50, 75, 110),
}
HAIR_STYLES = ("short", "long", "bun", "ponytail", "buzz")
SHOE_COLORS = ("white", "black", "red", "blue", "yellow", "orange")
SOCK_COLORS = ("white", "black", "gray", "red", "navy")
SPORTS = ("basketball", "soccer", "volleyball")


@dataclass(frozen=True)
class Identity:
    """One synthetic person. ``gid`` is the dataset-global identity shared across sequences."""

    gid: int
    scene: str  # "dance" or a sport
    group: str  # team / troupe name
    gender: str  # "woman" | "man"
    uniform: str  # top colour name, e.g. "red"
    pants: str  # shorts / trousers colour name
    number: int | None  # jersey number (sports only)
    hair_style: str
    hair_color: str
    skin: str
    shoes: str
    socks: str
    height: float  # relative body height, ~0.88..1.10

    def attribute_row(self) -> dict[str, str]:
        """Identity as a row shaped like Table S.1 (ID, Sports, Gender, Uniform, Number, Others)."""
        uniform = self.uniform if self.pants == self.uniform else f"{self.uniform}, {self.pants}"
        others = [
            f"{self.hair_color} {self.hair_style} hair",
            f"{self.shoes} shoes",
            f"{self.socks} socks",
        ]
        if self.height >= 1.05:
            others.append("tall")
        elif self.height <= 0.93:
            others.append("short")
        return {
            "id": str(self.gid),
            "scene": self.scene,
            "gender": self.gender,
            "uniform": uniform,
            "number": "" if self.number is None else str(self.number),
            "others": "; ".join(others),
            "group": self.group,
            "hair_style": self.hair_style,
            "hair_color": self.hair_color,
            "skin": self.skin,
            "shoes": self.shoes,
            "socks": self.socks,
            "height": f"{self.height:.2f}",
        }


def make_group(
    rng: np.random.Generator,
    *,
    first_gid: int,
    size: int,
    scene: str,
    group: str,
    uniform: str,
    pants: str,
) -> list[Identity]:
    """A team or troupe of ``size`` look-alikes sharing one uniform."""
    numbers = (
        rng.choice(np.arange(1, 40), size=size, replace=False)
        if scene != "dance"
        else [None] * size
    )
    people = []
    for i in range(size):
        gender = str(rng.choice(["woman", "man"]))
        styles = (
            ("long", "bun", "ponytail", "short")
            if gender == "woman"
            else ("short", "buzz", "short", "long")
        )
        people.append(
            Identity(
                gid=first_gid + i,
                scene=scene,
                group=group,
                gender=gender,
                uniform=uniform,
                pants=pants,
                number=None if numbers[i] is None else int(numbers[i]),
                hair_style=str(rng.choice(styles)),
                hair_color=str(rng.choice(list(HAIR_COLORS))),
                skin=str(rng.choice(list(SKIN_TONES))),
                shoes=str(rng.choice(SHOE_COLORS)),
                socks=str(rng.choice(SOCK_COLORS)),
                height=float(np.round(rng.uniform(0.88, 1.10), 2)),
            )
        )
    return people


@dataclass(frozen=True)
class Pose:
    """Where and how to draw one figure in image pixels.

    ``(x, y)`` is the point between the feet; ``h`` the full body height; ``phase`` drives the
    limb cycle (radians); ``swing`` its amplitude (0 standing .. 1 sprinting); ``arms_up`` lifts
    both arms (dance moves); ``facing`` is +1 (right) or -1 (left).
    """

    x: float
    y: float
    h: float
    phase: float
    swing: float
    arms_up: float = 0.0
    facing: int = 1


Primitive = tuple  # ("line", p0, p1, thickness, color) | ("circle", c, r, color) | ("poly", pts, color) | ("ellipse", c, axes, angle, color) | ("text", s, org, scale, thick, color)


def _limb(origin: np.ndarray, angle: float, length: float) -> np.ndarray:
    """End point of a limb hanging from ``origin`` rotated ``angle`` radians from straight down."""
    return origin + length * np.array([math.sin(angle), math.cos(angle)])


def figure_primitives(person: Identity, pose: Pose) -> list[Primitive]:
    """Drawing primitives for one person, back to front (far limbs first)."""
    h = pose.h * person.height
    build = 1.0 if person.gender == "man" else 0.9
    feet = np.array([pose.x, pose.y])
    pelvis = feet + [0.0, -0.50 * h]
    neck = feet + [0.0, -0.83 * h]
    head_r = 0.065 * h
    head = neck + [0.0, -head_r * 1.15]
    sh_w, hip_w = 0.11 * h * build, 0.075 * h * build
    leg_t, arm_t = max(2, int(0.065 * h)), max(2, int(0.048 * h))
    skin = SKIN_TONES[person.skin]
    top, pants = COLORS[person.uniform], COLORS[person.pants]
    socks, shoes = COLORS[person.socks], COLORS[person.shoes]

    s = math.sin(pose.phase) * pose.swing
    prims: list[Primitive] = []
    # Legs: thigh in pants colour, shin in skin, sock band, shoe.
    for side, sign in ((-1, 1.0), (1, -1.0)):
        hip = pelvis + [side * hip_w * 0.6, 0.0]
        thigh_a = sign * 0.55 * s
        knee = _limb(hip, thigh_a, 0.24 * h)
        # The knee bends backwards on the leg that swings back, as in a running stride.
        shin_a = thigh_a - pose.facing * 0.9 * max(0.0, -sign * s)
        ankle = _limb(knee, shin_a, 0.22 * h)
        sock_top = knee + 0.55 * (ankle - knee)
        toe = ankle + [pose.facing * 0.07 * h, 0.0]
        prims.append(("line", hip, knee, leg_t, pants))
        prims.append(("line", knee, sock_top, leg_t - 1, skin))
        prims.append(("line", sock_top, ankle, leg_t - 1, socks))
        prims.append(("line", ankle, toe, max(2, leg_t - 1), shoes))
    # Torso: a trapezoid jersey from shoulders to hips, shorts band below.
    torso = np.array(
        [
            neck + [-sh_w, 0.02 * h],
            neck + [sh_w, 0.02 * h],
            pelvis + [hip_w, 0.0],
            pelvis + [-hip_w, 0.0],
        ]
    )
    prims.append(("poly", torso, top))
    shorts = np.array(
        [
            pelvis + [-hip_w, -0.05 * h],
            pelvis + [hip_w, -0.05 * h],
            pelvis + [hip_w * 1.1, 0.09 * h],
            pelvis + [-hip_w * 1.1, 0.09 * h],
        ]
    )
    prims.append(("poly", shorts, pants))
    if person.number is not None:
        scale = 0.0105 * h
        text = str(person.number)
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, max(1, int(0.012 * h)))
        org = neck + [-tw / 2, 0.16 * h]
        ink = COLORS["black"] if sum(top) > 450 else COLORS["white"]
        prims.append(("text", text, org, scale, max(1, int(0.012 * h)), ink))
    # Arms: sleeve in top colour, forearm in skin; dance moves raise them.
    for side, sign in ((-1, -1.0), (1, 1.0)):
        shoulder = neck + [side * sh_w * 0.95, 0.03 * h]
        base = side * (0.15 + 2.4 * pose.arms_up)
        upper_a = base + sign * 0.6 * s
        elbow = _limb(shoulder, upper_a, 0.16 * h)
        hand = _limb(elbow, upper_a + side * (0.3 + 0.5 * abs(s)), 0.15 * h)
        prims.append(("line", shoulder, shoulder + 0.45 * (elbow - shoulder), arm_t + 1, top))
        prims.append(("line", shoulder + 0.45 * (elbow - shoulder), elbow, arm_t, skin))
        prims.append(("line", elbow, hand, arm_t, skin))
    # Head and hair.
    prims.append(("circle", head, head_r, skin))
    hair = HAIR_COLORS[person.hair_color]
    style = person.hair_style
    if style == "long":
        prims.append(
            (
                "poly",
                np.array(
                    [
                        head + [-head_r * 1.1, -head_r * 0.2],
                        head + [head_r * 1.1, -head_r * 0.2],
                        neck + [head_r * 1.2, head_r * 1.4],
                        neck + [-head_r * 1.2, head_r * 1.4],
                    ]
                ),
                hair,
            )
        )
    if style != "buzz":
        prims.append(
            ("ellipse", head + [0.0, -head_r * 0.35], (head_r * 1.08, head_r * 0.75), 0.0, hair)
        )
    else:
        prims.append(
            ("ellipse", head + [0.0, -head_r * 0.55], (head_r * 0.95, head_r * 0.45), 0.0, hair)
        )
    if style == "bun":
        prims.append(("circle", head + [0.0, -head_r * 1.25], head_r * 0.5, hair))
    elif style == "ponytail":
        tail = head + [-pose.facing * head_r * 1.3, head_r * 0.2]
        prims.append(("ellipse", tail, (head_r * 0.45, head_r * 0.9), -pose.facing * 20.0, hair))
    return prims


def _pt(p: np.ndarray, offset: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] - offset[0])), int(round(p[1] - offset[1]))


def draw_primitives(
    canvas: np.ndarray,
    prims: list[Primitive],
    *,
    offset: np.ndarray | None = None,
    color: int | tuple[int, int, int] | None = None,
) -> None:
    """Paint ``prims`` on ``canvas``; ``offset`` shifts them (local masks); ``color`` overrides all."""
    off = np.zeros(2) if offset is None else offset
    for prim in prims:
        kind = prim[0]
        col = color if color is not None else prim[-1]
        if kind == "line":
            cv2.line(
                canvas,
                _pt(prim[1], off),
                _pt(prim[2], off),
                col,
                int(prim[3]),
                cv2.LINE_AA if color is None else cv2.LINE_8,
            )
        elif kind == "circle":
            cv2.circle(canvas, _pt(prim[1], off), max(1, int(round(prim[2]))), col, -1)
        elif kind == "poly":
            pts = np.round(prim[1] - off).astype(np.int32)
            cv2.fillConvexPoly(canvas, pts, col)
        elif kind == "ellipse":
            axes = (max(1, int(round(prim[2][0]))), max(1, int(round(prim[2][1]))))
            cv2.ellipse(canvas, _pt(prim[1], off), axes, prim[3], 0, 360, col, -1)
        elif kind == "text" and color is None:
            # Numbers are printed on the jersey: they change pixels, not the silhouette.
            cv2.putText(
                canvas,
                prim[1],
                _pt(prim[2], off),
                cv2.FONT_HERSHEY_SIMPLEX,
                prim[3],
                col,
                prim[4],
                cv2.LINE_AA,
            )


def primitives_extent(prims: list[Primitive]) -> np.ndarray:
    """Conservative ``[x0, y0, x1, y1]`` around all primitives (used to size local masks)."""
    pts = []
    for prim in prims:
        kind = prim[0]
        if kind == "line":
            r = prim[3] / 2 + 1
            for p in (prim[1], prim[2]):
                pts += [p - r, p + r]
        elif kind == "circle":
            pts += [prim[1] - prim[2] - 1, prim[1] + prim[2] + 1]
        elif kind == "poly":
            pts += list(prim[1])
        elif kind == "ellipse":
            r = max(prim[2]) + 1
            pts += [prim[1] - r, prim[1] + r]
    arr = np.asarray(pts, dtype=np.float64).reshape(-1, 2)
    return np.concatenate([arr.min(axis=0), arr.max(axis=0)])
