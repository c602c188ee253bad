"""Attribute annotations (a CSV shaped like Table S.1) to natural captions.

The CSV has a header and one row per identity::

    id,sport,gender,uniform,number,others
    1,basketball,woman,yellow,5,bun hair
    91,soccer,man,"gray, blue",32,black socks

``sport`` may also be called ``scene`` or ``activity`` (the synthetic generator writes ``scene``);
any other column (``hair``, ``shoes``, ``socks``...) is one more detail: value ``red`` in column
``shoes`` reads "red shoes". ``others`` holds free details separated by ``;`` or ``,``.

The paper paraphrased each identity's one translated description ten times with an MLLM. Offline,
we get the variation from templates instead: several sentence structures, subject phrasings,
verbs and number phrasings (the Table S.2 captions are the model), drawn without repetition by a
random generator seeded per identity, so the same CSV and seed always give the same captions.
:meth:`cgclip.captions.mllm.MllmCaptioner.paraphrase` can add MLLM paraphrases on top.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from cgclip.errors import UserError

ACTIVITY_COLUMNS = ("sport", "sports", "scene", "activity")
CORE_COLUMNS = {"id", "gender", "uniform", "number", "others", *ACTIVITY_COLUMNS}
SKIP_COLUMNS = {
    "sequence",
    "sequences",
    "seq",
    "split",
    "track_id",
    "global_id",
    "team_id",
    "group",
}
EMPTY = {"", "-", "none", "n/a", "na", "null", "unknown"}

_MALE = {"man", "male", "m", "boy", "men"}
_FEMALE = {"woman", "female", "f", "girl", "women"}
_WEAR_WORDS = {
    "shoes", "shoe", "socks", "sock", "sneakers", "boots", "glasses", "sunglasses", "cap", "hat",
    "headband", "wristband", "band", "gloves", "sleeve", "sleeves", "bracelet", "necklace",
    "earrings", "shorts", "pants", "skirt", "jacket", "top", "shirt", "tights", "leggings",
    "knee", "pads", "tape", "watch", "mask",
}  # fmt: skip
_BE_WORDS = {"short", "tall", "slim", "thin", "stocky", "heavy", "small", "big", "young", "old"}
_COUNTABLE = {
    "ponytail", "bun", "braid", "beard", "mustache", "moustache", "tattoo", "headband",
    "wristband", "cap", "hat", "bag", "bracelet", "necklace", "jacket", "watch", "mask",
}  # fmt: skip
_GARMENT_WORDS = {
    "shirt", "t-shirt", "top", "dress", "pants", "costume", "jersey", "uniform", "jacket",
    "skirt", "shorts", "outfit", "hoodie", "suit", "tank", "vest", "trousers", "leggings",
}  # fmt: skip


@dataclass(frozen=True)
class Person:
    """One identity's attributes, normalised."""

    pid: int
    activity: str = ""
    gender: str = ""  # "man" | "woman" | ""
    uniform: str = ""
    number: str = ""
    details: tuple[str, ...] = field(default_factory=tuple)


def read_attributes(path: str | Path) -> dict[int, dict[str, str]]:
    """Rows of an attribute CSV keyed by the integer ``id`` column (header names lower-cased)."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{p}: attribute CSV not found")
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError:
        raise UserError(f"{p}: not a UTF-8 text CSV") from None
    if not rows:
        raise UserError(f"{p}: empty; expected a header with an id column")
    header = [h.strip().lower() for h in rows[0]]
    if "id" not in header:
        raise UserError(f"{p}: header {rows[0]} has no 'id' column (Table S.1: ID, Sports, ...)")
    out: dict[int, dict[str, str]] = {}
    for lineno, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise UserError(f"{p}:{lineno}: {len(row)} fields, the header has {len(header)}")
        rec = {h: cell.strip() for h, cell in zip(header, row, strict=True)}
        try:
            pid = int(rec["id"])
        except ValueError:
            raise UserError(f"{p}:{lineno}: id {rec['id']!r} is not an integer") from None
        if pid in out:
            raise UserError(f"{p}:{lineno}: id {pid} appears twice")
        out[pid] = rec
    if not out:
        raise UserError(f"{p}: no identity rows")
    return out


def person_from_row(pid: int, row: dict[str, str]) -> Person:
    def val(key: str) -> str:
        v = " ".join(row.get(key, "").split())
        return "" if v.lower() in EMPTY else v

    activity = next((val(c) for c in ACTIVITY_COLUMNS if val(c)), "").lower()
    g = val("gender").lower()
    gender = "man" if g in _MALE else "woman" if g in _FEMALE else ""
    details = [d.strip() for d in re.split(r"[;,]", val("others")) if d.strip()]
    for col in row:
        v = val(col)
        if col in CORE_COLUMNS or col in SKIP_COLUMNS or not v or re.search(r"\d", v):
            continue  # identifiers and measurements do not read as appearance
        if any(v.lower() in d.lower() for d in details):
            continue  # already said in "others" (e.g. shoes=red next to "red shoes")
        noun = col.replace("_", " ")
        details.append(v if noun.split()[-1] in v.lower() else f"{v} {noun}")
    number = val("number")
    number = number[:-2] if re.fullmatch(r"\d+\.0", number) else number
    return Person(pid, activity, gender, val("uniform"), number, tuple(details))


def _role(activity: str) -> str:
    if not activity:
        return ""
    if "danc" in activity:
        return "dancer"
    if activity in {"sport", "sports", "athletics"}:
        return "athlete"
    return f"{activity} player"


def _colors(text: str) -> str:
    parts = [p.strip() for p in re.split(r",|/| and ", text) if p.strip()]
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _with_article(phrase: str) -> str:
    words = phrase.lower().split()
    if words[0] in {"a", "an", "the"} or words[-1] not in _COUNTABLE:
        return phrase
    return ("an " if phrase[0].lower() in "aeiou" else "a ") + phrase


def _detail_clauses(details: tuple[str, ...], third_person: bool) -> str:
    """'red shoes', 'white socks', 'bun hair' -> 'wears red shoes and white socks and has bun hair'.

    The verb agrees with the subject; neighbouring details that take the same verb share it.
    """
    groups: list[tuple[str, list[str]]] = []
    for detail in details:
        words = set(re.split(r"[\s-]+", detail.lower()))
        if detail.lower() in _BE_WORDS:
            verb = "is" if third_person else "are"
        elif words & _WEAR_WORDS:
            verb = "wears" if third_person else "wear"
        else:
            verb = "has" if third_person else "have"
        if groups and groups[-1][0] == verb:
            groups[-1][1].append(_with_article(detail))
        else:
            groups.append((verb, [_with_article(detail)]))
    return _join([f"{verb} {_join(items)}" for verb, items in groups])


def _join(items: list[str]) -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


class _Grammar:
    """The phrase choices for one person; :meth:`sentence` composes one caption from a choice."""

    def __init__(self, p: Person) -> None:
        self.p = p
        role = _role(p.activity)
        self.role = role
        adj = {"man": "male", "woman": "female"}.get(p.gender, "")
        subjects = []
        if role and p.gender:
            subjects += [f"A {adj} {role}", f"A {p.gender} {role}"]
        elif role:
            subjects += [f"A {role}", f"A person who is a {role}"]
        elif p.gender:
            subjects += [f"A {p.gender}", f"A {adj} person"]
        else:
            subjects += ["A person", "Someone"]
        self.subjects = subjects
        self.pron = {"man": "He", "woman": "She"}.get(p.gender, "They")
        self.third = self.pron != "They"
        self.dress = ["is wearing", "is dressed in", "wears", "is seen in", "can be seen in"]
        self.outfits = self._outfits()
        self.numbers = (
            [
                f" with the number {p.number}",
                f" bearing the number {p.number}",
                f" with number {p.number} on it",
            ]
            if p.number
            else [""]
        )
        self.structures = ["plain", "also"] + (["comma"] if p.details else [])

    def _outfits(self) -> list[str]:
        u = self.p.uniform
        if not u:
            return []
        if set(re.split(r"[\s,]+", u.lower())) & _GARMENT_WORDS:
            return [_with_article(u) if u.lower().split()[0] in {"a", "an"} else f"a {u}"]
        colors = _colors(u)
        nouns = ["costume", "outfit"] if self.role == "dancer" else ["uniform", "jersey"]
        return [f"a {colors} {n}" for n in nouns]

    def choices(self) -> list[tuple[int, ...]]:
        sizes = [
            len(self.structures),
            len(self.subjects),
            len(self.dress),
            max(len(self.outfits), 1),
            len(self.numbers),
        ]
        combos: list[tuple[int, ...]] = [()]
        for n in sizes:
            combos = [c + (i,) for c in combos for i in range(n)]
        return combos

    def sentence(self, choice: tuple[int, ...]) -> str:
        s_i, subj_i, dress_i, out_i, num_i = choice
        structure, subject = self.structures[s_i], self.subjects[subj_i]
        details = _detail_clauses(self.p.details, True)
        details_pron = _detail_clauses(self.p.details, self.third)
        if not self.outfits:  # nothing to wear: subject + details
            if not details:
                return f"{subject}."
            return f"{subject} {details}."
        outfit = self.outfits[out_i] + self.numbers[num_i]
        if structure == "comma":  # "A man soccer player, in a white uniform ..., also has ..."
            return f"{subject}, in {outfit}, also {details}."
        first = f"{subject} {self.dress[dress_i]} {outfit}"
        if not details:
            return f"{first}."
        if structure == "also":
            return f"{first}, and {self.pron.lower()} also {details_pron}."
        return f"{first}. {self.pron} {details_pron}."


def captions_for_person(p: Person, per_id: int = 10, seed: int = 0) -> list[str]:
    """Up to ``per_id`` distinct captions (fewer only when the attributes allow fewer)."""
    grammar = _Grammar(p)
    seen: dict[str, None] = {}
    combos = grammar.choices()
    random.Random(seed * 1_000_003 + p.pid).shuffle(combos)
    for choice in combos:
        seen.setdefault(grammar.sentence(choice), None)
        if len(seen) >= per_id:
            break
    return list(seen)


def captions_from_attributes(
    attributes: dict[int, dict[str, str]], per_id: int = 10, seed: int = 0
) -> dict[int, list[str]]:
    """``read_attributes`` output -> ``{pid: [caption, ...]}`` (no ID text)."""
    if per_id < 1:
        raise UserError("captions per identity must be >= 1")
    return {
        pid: captions_for_person(person_from_row(pid, row), per_id=per_id, seed=seed)
        for pid, row in sorted(attributes.items())
    }
