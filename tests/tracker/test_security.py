"""Nothing runs code from a weights file or reaches files outside the presets by default."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from cgclip.errors import UserError
from tracker import run
from tracker.detectors import load_yolo


class _Payload:
    """Unpickling this creates ``marker``: what an attacker's ``__reduce__`` would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _payload_files(tmp_path: Path) -> tuple[Path, list[Path]]:
    import torch

    marker = tmp_path / "PWNED"
    as_zip, as_pickle = tmp_path / "evil.pt", tmp_path / "evil_raw.pt"
    torch.save({"model": _Payload(marker)}, as_zip)  # torch's zip format
    as_pickle.write_bytes(pickle.dumps({"model": _Payload(marker)}))  # a bare pickle
    return marker, [as_zip, as_pickle]


def test_payload_weights_never_run(tmp_path: Path) -> None:
    marker, files = _payload_files(tmp_path)
    for path in files:
        with pytest.raises(UserError, match="refused to load.*--trust-weights"):
            load_yolo(str(path))
        assert not marker.exists()


def test_payload_weights_from_the_cli_are_one_line(tmp_path: Path, sample_clip: Path, capsys):
    marker, files = _payload_files(tmp_path)
    video = sample_clip / "sample.mp4"
    argv = [str(video), "--detector", str(files[0]), "--output-dir", str(tmp_path / "o")]
    code = run.main([*argv, "--quiet"])  # --quiet: no thread plan / device lines
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--trust-weights" in err[0]
    assert not marker.exists() and not (tmp_path / "o").exists()


def test_genuine_ultralytics_weights_load_safely(tmp_path: Path) -> None:
    from ultralytics import YOLO

    good = tmp_path / "tiny.pt"
    YOLO("yolo11n.yaml").save(str(good))  # a real ultralytics checkpoint (random weights)
    model = load_yolo(str(good))
    assert type(model.model).__name__ == "DetectionModel"


def test_trust_weights_help_says_what_it_risks() -> None:
    text = run.build_parser().format_help()
    assert "--trust-weights" in text and "run any code" in " ".join(text.split())
