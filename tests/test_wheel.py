"""The installed package works: build the wheel, install it into a fresh venv, track the sample.

The fresh venv reuses this environment's dependencies (torch etc.) through a ``.pth`` file that
lists their site-packages folders, so nothing is downloaded; it does *not* process their ``.pth``
files, so an editable install of this checkout stays invisible. Every command runs outside the
checkout with no ``PYTHONPATH``, so only the wheel's files can be imported.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from tests.support import REPO_ROOT

PACKAGES = ("cgclip", "tracker", "demo")
SCRIPTS = {
    "cgclip-track": "tracker.cli:main",
    "cgclip-train": "cgclip.train.__main__:main",
    "cgclip-demo": "demo.__main__:main",
}
# Every preset the source tree has: each must ship in the wheel and track the sample.
PRESETS = sorted(p.stem for p in (REPO_ROOT / "tracker" / "presets").glob("*.yaml"))
# What the build reads: the project file, the README it names, the packages, and benchmarks/
# so that the test sees the build leave it out.
SOURCES = ("pyproject.toml", "README.md", *PACKAGES, "benchmarks")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"{cmd} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _dependency_dirs() -> list[str]:
    """This interpreter's site-packages folders (where torch and the other dependencies live)."""
    dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    dirs |= {p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")}
    return sorted(d for d in dirs if Path(d).is_dir())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv with only the wheel installed: (its bin folder, a clean environment)."""
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "results")
    for name in SOURCES:
        path = REPO_ROOT / name
        if path.is_dir():
            shutil.copytree(path, src / name, ignore=ignore)
        else:
            shutil.copy2(path, src / name)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INDEX"] = "1"  # never download: the build backend is in this environment
    pip = [sys.executable, "-m", "pip"]
    # A copy of the sources, so the build leaves no build/ or egg-info in the checkout.
    _run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(src)],
        root,
        env,
    )
    wheels = list((root / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels

    venv = root / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], root, env)
    python = venv / "bin" / "python"
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], root, env
    )
    Path(site.strip(), "project_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    _run([*pip, "--python", str(python), "install", "--no-deps", str(wheels[0])], root, env)
    return venv / "bin", env


def test_wheel_holds_the_packages_presets_and_commands_but_not_benchmarks(installed) -> None:
    bin_dir, env = installed
    probe = textwrap.dedent(
        """
        import importlib, importlib.util, json, pkgutil, sys
        from importlib.metadata import distribution
        from pathlib import Path
        venv = Path(sys.prefix)
        report = {"outside": [], "imported": 0, "benchmarks": importlib.util.find_spec("benchmarks") is not None}
        for name in %r:
            package = importlib.import_module(name)
            for info in pkgutil.walk_packages(package.__path__, name + "."):
                if any(part.startswith("_") for part in info.name.split(".")):
                    continue  # private modules and __main__
                module = importlib.import_module(info.name)
                report["imported"] += 1
                if venv not in Path(module.__file__).resolve().parents:
                    report["outside"].append(module.__file__)
        scripts = [ep for ep in distribution("cgclip-track").entry_points if ep.group == "console_scripts"]
        report["scripts"] = {ep.name: ep.value for ep in scripts}
        report["scripts_load"] = all(callable(ep.load()) for ep in scripts)
        from tracker import Tracker
        from tracker.config import preset_names
        report["presets"] = preset_names()
        report["sports_min_hits"] = Tracker.from_preset("sports").config.min_hits
        print(json.dumps(report))
        """
    ) % (PACKAGES,)
    report = json.loads(_run([str(bin_dir / "python"), "-c", probe], bin_dir.parent.parent, env))
    assert report["outside"] == [], "modules imported from outside the venv"
    assert report["imported"] > 40  # every public module of cgclip, tracker and demo
    assert not report["benchmarks"], "benchmarks/ must not be installed"
    assert report["presets"] == PRESETS and {"default", "sports", "dance"} <= set(PRESETS)
    assert report["sports_min_hits"] >= 1
    assert report["scripts"] == SCRIPTS and report["scripts_load"]
    assert all((bin_dir / name).is_file() for name in SCRIPTS)


def test_installed_commands_track_the_sample_with_every_preset(installed, tmp_path: Path) -> None:
    """The console command tracks with the first preset; ``python -m tracker.run`` (run as
    ``__main__`` by runpy, in one process to spare the start-up) with each of the others."""
    bin_dir, env = installed
    python = str(bin_dir / "python")
    sample = tmp_path / "sample"
    command = [python, "-m", "cgclip.data.synthetic", "sample", "--out", str(sample)]
    _run([*command, "--frames", "40", "--quiet"], tmp_path, env)
    common = [str(sample / "sample.mp4"), "--detections", str(sample / "det.txt"), "--no-video"]
    common += ["--quiet"]
    first, *others = PRESETS
    console = [str(bin_dir / "cgclip-track"), "track", *common]
    _run([*console, "--preset", first, "--output-dir", str(tmp_path / first)], tmp_path, env)
    as_module = textwrap.dedent(
        """
        import runpy, sys
        common, root = %r, %r
        for preset in %r:
            sys.argv = ["tracker.run", *common, "--preset", preset, "--output-dir", root + "/" + preset]
            try:
                runpy.run_module("tracker.run", run_name="__main__", alter_sys=True)
            except SystemExit as done:
                assert done.code == 0, (preset, done.code)
        """
    ) % (common, str(tmp_path), others)
    _run([python, "-c", as_module], tmp_path, env)
    for preset in PRESETS:
        data = json.loads((tmp_path / preset / "sample.tracks.json").read_text())
        assert len(data["frames"]) == 40 and data["config"] == _preset_config(preset)
        assert sum(len(frame["objects"]) for frame in data["frames"]) > 40
        assert (tmp_path / preset / "sample.mot.txt").stat().st_size > 0


def _preset_config(name: str) -> dict:
    from tracker.config import load_preset

    return json.loads(json.dumps(load_preset(name).to_dict()))  # as the JSON output holds it
