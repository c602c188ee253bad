"""Small checked file helpers shared by the dataset readers and the VReID builder.

Every helper raises :class:`~cgclip.errors.UserError` naming the offending file and, through
``hint``, what the user should do (usually: where to get the dataset), so a reader never fails with
a bare ``FileNotFoundError`` or ``KeyError`` deep inside scipy.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from cgclip.errors import UserError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


def require_dir(path: Path, hint: str) -> Path:
    if not path.is_dir():
        raise UserError(f"{path}: folder not found; {hint}")
    return path


def require_file(path: Path, hint: str) -> Path:
    if not path.is_file():
        raise UserError(f"{path}: file not found; {hint}")
    return path


def first_existing(root: Path, candidates: Iterable[str], what: str, hint: str) -> Path:
    """The first of ``root/candidate`` that exists as a file, else a UserError listing them all."""
    names = list(candidates)
    for name in names:
        if (root / name).is_file():
            return root / name
    tried = ", ".join(str(root / n) for n in names)
    raise UserError(f"{what} not found (looked for {tried}); {hint}")


def read_lines(path: Path, hint: str) -> list[str]:
    """Non-empty stripped lines of a text file."""
    require_file(path, hint)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file; {hint}") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def list_images(folder: Path) -> list[Path]:
    """Image files directly inside ``folder``, sorted by name."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS and p.is_file())


def load_mat_array(path: Path, key: str, hint: str) -> np.ndarray:
    """One variable of a MATLAB ``.mat`` file as a numpy array, whatever the file version.

    v4-v7.2 files are read with scipy; v7.3 files are HDF5 and are read with h5py, transposed
    back to MATLAB's row/column order (HDF5 stores MATLAB arrays column-major).
    """
    import scipy.io

    require_file(path, hint)
    try:
        data = scipy.io.loadmat(str(path))
    except NotImplementedError:  # MATLAB v7.3: an HDF5 file
        return _load_mat73(path, key, hint)
    except Exception as err:  # scipy raises MatReadError, ValueError, IndexError... on bad bytes
        reason = str(err) or type(err).__name__
        raise UserError(f"{path}: not a readable .mat file ({reason}); {hint}") from None
    if key not in data:
        found = sorted(k for k in data if not k.startswith("__"))
        raise UserError(f"{path}: no variable {key!r} (found {found}); {hint}")
    return np.asarray(data[key])


def _load_mat73(path: Path, key: str, hint: str) -> np.ndarray:
    try:
        import h5py
    except ImportError:
        raise UserError(
            f"{path}: MATLAB v7.3 file needs h5py to read; install it with `pip install h5py`"
        ) from None
    with h5py.File(path, "r") as fh:
        if key not in fh:
            found = sorted(k for k in fh if not k.startswith("#"))
            raise UserError(f"{path}: no variable {key!r} (found {found}); {hint}")
        return np.asarray(fh[key][()]).T


def as_int_matrix(arr: np.ndarray, path: Path, key: str, cols: int | None, hint: str) -> np.ndarray:
    """Check a numeric 2-D array (optionally with ``cols`` columns) of whole numbers."""
    if arr.dtype.kind not in "iuf" or arr.ndim != 2 or (cols is not None and arr.shape[1] != cols):
        want = f"(N, {cols})" if cols is not None else "a 2-D"
        raise UserError(
            f"{path}: variable {key!r} has shape {arr.shape} and dtype {arr.dtype}, expected {want} "
            f"numeric array; {hint}"
        )
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
        raise UserError(f"{path}: variable {key!r} must hold whole numbers; {hint}")
    return arr.astype(np.int64)


class PrefixIndex:
    """Find the image files whose path starts with a prefix, listing each folder only once.

    LS-VID names a tracklet by a path prefix (``tracklet_test/…/0001_c01_…``); globbing every
    prefix would re-list the same large folder thousands of times.
    """

    def __init__(self) -> None:
        self._cache: dict[Path, list[str]] = {}

    def match(self, prefix: Path) -> list[Path]:
        folder = prefix.parent
        names = self._cache.get(folder)
        if names is None:
            names = (
                sorted(p.name for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS)
                if folder.is_dir()
                else []
            )
            self._cache[folder] = names
        stem = prefix.name
        lo = bisect.bisect_left(names, stem)
        out = []
        for name in names[lo:]:
            if not name.startswith(stem):
                break
            out.append(folder / name)
        return out
