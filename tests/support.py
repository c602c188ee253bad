"""Helpers shared by the tests that are plain values or functions rather than fixtures.

Fixtures live in ``tests/conftest.py``; import from here only what a fixture cannot give (module
constants, code run in a subprocess).
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
