"""benchmarks/fetch_vtest.sh: a clip that is not OpenCV's vtest.avi, or none at all, is one
error line and no file (apt-get and curl are stand-ins here; the real fetch needs a network)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "fetch_vtest.sh"


def _fetch(tmp_path: Path, curl_body: str) -> tuple[subprocess.CompletedProcess, Path]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "apt-get").write_text("#!/bin/sh\nexit 100\n")  # no Debian mirror
    (bin_dir / "curl").write_text(f"#!/bin/sh\n{curl_body}\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    dest = tmp_path / "clips" / "vtest.avi"
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.run(
        ["bash", str(SCRIPT), str(dest)], env=env, capture_output=True, text=True, timeout=60
    )
    return proc, dest


def test_a_clip_with_another_sha256_is_not_written(tmp_path):
    # curl's last two arguments are "-o PATH": write something else there
    proc, dest = _fetch(tmp_path, 'for a; do out="$a"; done; echo "not the clip" > "$out"')
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: vtest.avi has another sha256")
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not dest.exists() and not dest.with_name("vtest.avi.part").exists()


def test_no_source_reachable_is_one_error_line(tmp_path):
    proc, dest = _fetch(tmp_path, "exit 22")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: could not fetch vtest.avi") and "by hand" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not dest.exists()
