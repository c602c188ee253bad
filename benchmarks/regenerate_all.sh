#!/usr/bin/env bash
# Rerun every benchmark behind a docs table in a fixed order, then render the docs; the plan with
# a time estimate per step comes first (--list prints only the plan). Use an idle machine.
#
#   bash benchmarks/regenerate_all.sh [--list] [--only STEP...] [--skip STEP...] [--from STEP]
#
# PYTHON picks the interpreter (default .venv/bin/python). See benchmarks/regenerate_all.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
PYTHONPATH="$PWD" exec "$PY" -m benchmarks.regenerate_all "$@"
