"""tracker_robustness: the per-family guard choice, and the presets agreeing with it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from benchmarks import tracker_robustness as rb
from benchmarks.tracker_common import RESULTS_DIR
from tracker.config import load_preset


def _row(hota: float, idf1: float) -> dict[str, float]:
    return {"HOTA": hota, "IDF1": idf1}


def test_the_choice_takes_the_largest_worst_slack_then_the_matched_gain(monkeypatch):
    labels = list(rb.GUARD_CANDIDATES)
    # dance: matched is dance+sports (gained 10 before, so it must keep 9); the others must stay
    # within 0.5 of motion only (60).
    now = {
        labels[0]: {"dance+sports": (65, 65), "street": (60, 60), "random": (60, 60)},  # -4
        labels[1]: {"dance+sports": (70, 70), "street": (60, 60), "random": (60, 60)},  # +0.5
        labels[2]: {"dance+sports": (72, 72), "street": (59, 59), "random": (60, 60)},  # -0.5
        labels[3]: {"dance+sports": (71, 71), "street": (60, 60), "random": (60, 60)},  # +0.5
    }
    for label in labels[4:]:  # the matched embedder keeps nothing of its 10: -9
        now[label] = {"dance+sports": (60, 60), "street": (60, 60), "random": (60, 60)}

    def fake_rows(family, split_dir, checkpoints, cache_root, max_seqs=None, nows=None):
        assert family == "dance" and nows == rb.guard_candidates("dance")
        rows = {"motion only": _row(60, 60)}
        for name in ("dance+sports", "street", "random"):
            rows[f"{name} (before)"] = _row(70, 70) if name == "dance+sports" else _row(55, 55)
            for label in labels:
                rows[f"{name} ({label})"] = _row(*now[label][name])
        return rows

    monkeypatch.setattr(rb, "family_rows", fake_rows)
    out = rb.choose_guards("dance", Path("data/synth-full-tune/tune"), {}, None, None)
    slacks = {k: round(v["slack"], 6) for k, v in out["scores"].items()}
    expected = {labels[0]: -4.0, labels[1]: 0.5, labels[2]: -0.5, labels[3]: 0.5}
    assert slacks == expected | dict.fromkeys(labels[4:], -9.0)
    assert out["split"] == "tune"
    assert out["chosen"] == labels[3]  # ties with labels[1] on slack, gains more
    assert out["knobs"] == rb.guard_candidates("dance")[labels[3]]


def test_every_preset_ships_the_guards_the_committed_choice_chose():
    result = json.loads((RESULTS_DIR / "tracker_robustness.json").read_text())
    choice = result["guard_choice"]
    assert set(choice) == set(rb.FAMILIES)
    for family, c in choice.items():
        preset = load_preset(family)
        assert c["knobs"] == rb.guard_candidates(family)[c["chosen"]]
        assert {k: getattr(preset, k) for k in c["knobs"]} == c["knobs"], family


def test_fused_options_carry_the_family_weight_even_after_a_fused_off_choice():
    """A preset with the fused stages off (appearance_weight 0) must not turn every fused
    option into "fused off" on the next choice: those options bring a weight of their own."""
    for family in rb.FAMILIES:
        preset = load_preset(family)
        for label, knobs in rb.guard_candidates(family).items():
            weight = preset.replace(**knobs).appearance_weight
            assert (weight == 0) == (", fused off," in label), label
            if weight:
                assert weight == (preset.appearance_weight or rb.TrackerConfig().appearance_weight)


def test_the_choice_table_shows_every_candidate_once_and_marks_the_chosen():
    labels = list(rb.GUARD_CANDIDATES)
    scores = {label: {"slack": i / 100, "matched_gain": 0.0} for i, label in enumerate(labels)}
    choice = {"dance": {"split": "tune", "scores": scores, "chosen": labels[5]}}
    lines = rb.render_choice(choice)
    body = [line for line in lines if line.startswith("| dance |")]
    assert len(body) == len(rb.FUSED_FLOORS) + 1  # and a row with the fused stages off
    cells = [c for line in body for c in line.split(" | ")[2:]]
    slacks = [v.strip(" |*") for cell in cells for v in cell.split(" / ")]
    assert sorted(slacks) == sorted(f"{i / 100:+.2f}" for i in range(len(labels)))
    assert sum("**" in cell for cell in cells) == 1 and f"**{5 / 100:+.2f}**" in "".join(cells)
    assert "TUNE split" in lines[0]


def test_the_tune_split_is_a_third_split_with_people_of_its_own(tmp_path):
    from dataclasses import replace

    from cgclip.data.synthetic import PRESETS, generate_dataset

    cfg = replace(PRESETS["test"], frames=12, seqs_per_split=1, render=False, write_video=False)
    root = tmp_path / "synth"
    generate_dataset(root, cfg, progress=False)
    tune = rb.ensure_tune(root, cfg)
    assert tune == tmp_path / "synth-tune" / "tune"
    assert sorted(p.name for p in (tmp_path / "synth-tune").iterdir() if p.is_dir()) == [
        "seqmaps",
        "tune",
    ]
    names = {p.name for split in ("train", "val") for p in (root / split).iterdir()}
    tuned = {p.name for p in tune.iterdir()}
    assert len(tuned) == 2 and not tuned & names  # one dance, one sports, named apart

    def people(path, split):  # every attribute but the id and the group's name
        rows = list(csv.DictReader(path.open()))
        return {
            tuple(v for k, v in r.items() if k not in ("id", "group"))
            for r in rows
            if f"-{split}-" in r["group"]
        }

    new = people(tmp_path / "synth-tune" / "identities.csv", "tune")
    old = people(root / "identities.csv", "train") | people(root / "identities.csv", "val")
    assert new and old and not new & old  # nobody looks like anyone of train or val
    assert rb.ensure_tune(root, cfg) == tune  # a second call generates nothing


def test_checks_show_each_sequence_now_minus_motion_only():
    rows = {
        "motion only": {"per_sequence": {"a": _row(60, 70), "b": _row(50, 55)}},
        "random (now)": {"per_sequence": {"a": _row(61.5, 70), "b": _row(49.1, 56.25)}},
        "street (now)": {"HOTA": 1.0},  # written before rows kept their sequences
    }
    assert rb.per_sequence_gains(rows, "random") == "+1.5 / +0.0, -0.9 / +1.2"
    assert rb.per_sequence_gains(rows, "street") == ""


def test_embedder_seed_reaches_training_and_the_random_network(monkeypatch, tmp_path):
    """A second draw of embedders (``--embedder-seed 1 --runs ...``) trains with that seed and
    draws the random network with it; the shipped guards are checked (no choice)."""
    trained, drawn, nows = [], [], []
    monkeypatch.setattr(rb, "ensure_data", lambda data: None)
    monkeypatch.setattr(rb, "ensure_street", lambda data, seed: None)

    def fake_checkpoint(data, out_dir, overrides):
        trained.append((out_dir.name, overrides))
        return out_dir / "last.safetensors"

    def fake_random(path, seed):
        drawn.append((path, seed))
        return path

    def fake_rows(family, split_dir, checkpoints, cache_root, max_seqs=None, nows_=None):
        nows.append(nows_)
        motion = {"HOTA": 50.0, "IDF1": 60.0, "IDSW": 3, "teleports": 0}
        return {"motion only": motion} | {
            f"{n} ({label})": motion for n in checkpoints for label in ("before", "now")
        }

    monkeypatch.setattr(rb, "ensure_checkpoint", fake_checkpoint)
    monkeypatch.setattr(rb, "ensure_random_checkpoint", fake_random)
    monkeypatch.setattr(rb, "family_rows", fake_rows)
    out = tmp_path / "seed1.json"
    argv = ["--runs", str(tmp_path / "runs"), "--embedder-seed", "1", "--out", str(out)]
    assert rb.main(argv) == 0
    assert {name for name, _ in trained} == {"ckpt-dancesports", "ckpt-street"}
    assert all("run.seed=1" in overrides for _, overrides in trained)
    assert drawn == [(tmp_path / "runs" / "ckpt-random.safetensors", 1)]
    assert nows == [{"now": {}}] * len(rb.FAMILIES)  # the presets as shipped
    result = json.loads(out.read_text())
    assert result["embedder_seed"] == 1 and "guard_choice" not in result
    assert all(c["ok"] for f in result["families"].values() for c in f["checks"].values())
