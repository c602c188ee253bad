"""CachedArtefactBackend: the one reuse-or-build step of the onnx and tensorrt backends."""

from __future__ import annotations

import torch

from cgclip.runtime.base import CachedArtefactBackend, artifact_key


class TextBackend(CachedArtefactBackend):
    """A toy artefact: a text file holding the key; its runner scales the CLS token."""

    name = "toy"
    artefact = "toy file"
    suffix = ".txt"

    def __init__(self, model, cache_dir, rebuild=False):
        super().__init__(model)
        self.builds = 0
        key = artifact_key(self.model, "toy", self.precision)
        self.runner = self._reuse_or_build(
            key, cache_dir=cache_dir, prefix=None, rebuild=rebuild, note="a note"
        )

    def _open(self):
        return self.path.read_text() if self.path.read_text() == self.key else None

    def _build(self):
        self.builds += 1
        self.path.write_text(self.key)
        return self.key

    def _encode(self, crops):
        return self.model.encode_frames(crops)


def test_builds_once_then_reuses_and_rebuilds_what_is_not_its_own(model, tmp_path, caplog):
    with caplog.at_level("INFO", logger="cgclip.runtime"):
        first = TextBackend(model, tmp_path)
    assert first.builds == 1 and not first.reused and first.runner == first.key
    assert first.path.parent == tmp_path and first.path.name.endswith(".fp32.txt")
    assert f"building the toy file (fp32, a note): {first.path}" in caplog.text
    assert "built in" in first._state()

    again = TextBackend(model, tmp_path)
    assert again.reused and again.builds == 0 and again.build_seconds == 0.0
    assert again._state() == "cached"
    assert TextBackend(model, tmp_path, rebuild=True).builds == 1

    first.path.write_text("someone else's")  # a foreign or corrupt file under this name
    caplog.clear()
    with caplog.at_level("INFO", logger="cgclip.runtime"):
        fixed = TextBackend(model, tmp_path)
    assert fixed.builds == 1 and not fixed.reused and first.path.read_text() == fixed.key
    assert "is unusable; building it again" in caplog.text

    with torch.no_grad():  # other weights: another key, another file
        model.image_encoder.visual.ln_post.bias.add_(0.5)
    other = TextBackend(model, tmp_path)
    assert other.builds == 1 and other.path != first.path
