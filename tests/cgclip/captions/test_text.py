"""Attribute captions, ID text and the caption JSON file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from cgclip.captions import (
    captions_from_attributes,
    id_text,
    load_captions,
    memory_texts,
    missing_identities,
    read_attributes,
    save_captions,
    with_id_text,
)
from cgclip.captions.__main__ import main
from cgclip.errors import UserError

# Table S.1 of the supplement, verbatim
TABLE_S1 = """ID,Sports,Gender,Uniform,Number,Others
1,basketball,woman,yellow,5,bun hair
2,basketball,woman,blue,10,red shoes
91,soccer,man,"gray, blue",32,black socks
92,soccer,man,white,1,red shoes
"""


@pytest.fixture()
def table_s1(tmp_path: Path) -> Path:
    path = tmp_path / "attributes.csv"
    path.write_text(TABLE_S1)
    return path


def test_id_text_and_memory_texts() -> None:
    assert id_text(7) == "The person's ID is 7."
    assert with_id_text("A man in red.", 7) == "A man in red. The person's ID is 7."
    assert with_id_text("  A man   in red ", 12) == "A man in red. The person's ID is 12."
    assert with_id_text("", 3) == "The person's ID is 3."
    texts = memory_texts({1: ["A woman."], 2: ["A man!", "Tall"]}, [1, 2, 5])
    assert texts == {
        1: ["A woman. The person's ID is 1."],
        2: ["A man! The person's ID is 2.", "Tall. The person's ID is 2."],
        5: ["The person's ID is 5."],  # no caption: the ID text alone (Table S.5)
    }
    assert memory_texts({1: ["A woman."]}, [1, 5], use_id_text=False) == {1: ["A woman."]}


def test_table_s1_captions_carry_every_attribute(table_s1: Path) -> None:
    caps = captions_from_attributes(read_attributes(table_s1))
    assert sorted(caps) == [1, 2, 91, 92]
    expected = {
        1: ("basketball player", ("female", "woman"), "yellow", "number 5", "has bun hair"),
        2: ("basketball player", ("female", "woman"), "blue", "number 10", "wears red shoes"),
        91: ("soccer player", ("male", "man"), "gray and blue", "number 32", "wears black socks"),
        92: ("soccer player", ("male", "man"), "white", "number 1", "wears red shoes"),
    }
    for pid, (role, gender, colour, number, detail) in expected.items():
        assert len(caps[pid]) == 10 and len(set(caps[pid])) == 10
        for c in caps[pid]:
            assert role in c and colour in c and number in c and detail in c
            assert any(f"{g} {role}" in c for g in gender)
            assert c.endswith(".") and c[0].isupper() and "  " not in c
    # deterministic for a seed; another seed draws other paraphrases
    assert captions_from_attributes(read_attributes(table_s1)) == caps
    assert captions_from_attributes(read_attributes(table_s1), seed=1)[1] != caps[1]
    assert len(captions_from_attributes(read_attributes(table_s1), per_id=3)[91]) == 3


def test_extra_columns_and_details() -> None:
    rows = {
        5: {
            "id": "5",
            "scene": "dance",
            "gender": "female",
            "uniform": "white cropped T-shirt and white track pants",
            "number": "",
            "others": "ponytail; white sneakers; short",
            "shoes": "white",  # already said in "others": not repeated
            "skin": "dark",
            "group": "troupe-train-0",  # identifier: skipped
            "height": "0.98",  # measurement: skipped
        },
        6: {"id": "6", "gender": "", "others": ""},
    }
    caps = captions_from_attributes(rows, per_id=10)
    for c in caps[5]:
        assert "dancer" in c and "a white cropped T-shirt and white track pants" in c
        assert "has a ponytail" in c and "wears white sneakers" in c and "is short" in c
        assert "dark skin" in c and "white shoes" not in c and "troupe" not in c and "0.98" not in c
        assert "uniform" not in c and "number" not in c
    assert caps[6] == ["A person.", "Someone."] or caps[6] == ["Someone.", "A person."]


def test_attribute_csv_errors(tmp_path: Path) -> None:
    bad = tmp_path / "a.csv"
    cases = [
        ("name,gender\nx,man\n", r"a\.csv: header .* has no 'id' column"),
        ("id,gender\nseven,man\n", r"a\.csv:2: id 'seven' is not an integer"),
        ("id,gender\n1,man\n1,woman\n", r"a\.csv:3: id 1 appears twice"),
        ("id,gender\n1,man,extra\n", r"a\.csv:2: 3 fields, the header has 2"),
        ("", r"a\.csv: empty"),
    ]
    for text, message in cases:
        bad.write_text(text)
        with pytest.raises(UserError, match=message):
            read_attributes(bad)
    with pytest.raises(UserError, match=r"missing\.csv: attribute CSV not found"):
        read_attributes(tmp_path / "missing.csv")


def test_caption_file_roundtrip_and_validation(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    save_captions(path, {10: ["A man.", "A  tall man."], 2: ["A woman."]})
    assert list(json.loads(path.read_text())) == ["2", "10"]  # numeric order
    assert load_captions(path) == {2: ["A woman."], 10: ["A man.", "A tall man."]}
    assert missing_identities(load_captions(path), [2, 3, 10, 11]) == [3, 11]
    cases = [
        (
            "[1, 2]",
            r"c\.json: expected a JSON object mapping identity to a list of captions, got list",
        ),
        ("{}", r"c\.json: holds no identities"),
        ('{"x": ["a"]}', r"c\.json: key 'x' is not an integer identity"),
        ('{"1": []}', r"c\.json: identity 1 needs a non-empty list of captions"),
        ('{"1": "A man."}', r"c\.json: identity 1 needs a non-empty list"),
        ('{"1": ["ok", 3]}', r"c\.json: identity 1, caption 1 is not a non-empty string"),
        ('{"1": ["ok", " "]}', r"c\.json: identity 1, caption 1 is not a non-empty string"),
        ('{"1": ["a"], "01": ["b"]}', r"c\.json: key '01' is not a plain integer identity"),
        ("{oops", r"c\.json: not valid JSON"),
    ]
    for text, message in cases:
        path.write_text(text)
        with pytest.raises(UserError, match=message):
            load_captions(path)
    with pytest.raises(UserError, match=r"nope\.json: caption file not found"):
        load_captions(tmp_path / "nope.json")


def test_cli_from_attributes_and_check(
    table_s1: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "captions.json"
    assert (
        main(["from-attributes", "--attributes", str(table_s1), "--out", str(out), "--per-id", "4"])
        == 0
    )
    assert {k: len(v) for k, v in load_captions(out).items()} == {1: 4, 2: 4, 91: 4, 92: 4}
    assert main(["check", str(out)]) == 0
    assert "valid, 4 identities, 16 captions" in capsys.readouterr().out
    (tmp_path / "broken.json").write_text('{"1": []}')
    assert main(["check", str(tmp_path / "broken.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ") and "identity 1 needs" in err


def test_module_entry_point(table_s1: Path, tmp_path: Path, subprocess_env: dict[str, str]) -> None:
    out = tmp_path / "c.json"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgclip.captions",
            "from-attributes",
            "--attributes",
            str(table_s1),
            "--out",
            str(out),
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert len(load_captions(out)[91]) == 10
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cgclip.captions",
            "from-attributes",
            "--attributes",
            str(tmp_path / "x.csv"),
            "--out",
            str(out),
        ],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"error: {tmp_path / 'x.csv'}: attribute CSV not found"
