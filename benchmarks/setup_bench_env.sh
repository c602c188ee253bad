#!/usr/bin/env bash
# Create .venv-bench: the project's environment plus BoxMOT, kept apart so BoxMOT (AGPL, heavy,
# pins opencv-python<5) never enters the runtime dependencies or disturbs the main venv.
#
#   bash benchmarks/setup_bench_env.sh [path/to/main/python]
#
# The bench venv sees the main venv's packages through a .pth file and installs only what BoxMOT
# adds on top (its own opencv-python 4.x shadows the main one inside the bench venv only).
set -euo pipefail
cd "$(dirname "$0")/.."
MAIN_PY="${1:-.venv/bin/python}"
BENCH=.venv-bench
"$MAIN_PY" -m venv "$BENCH"
SITE=$("$MAIN_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
BENCH_SITE=$("$BENCH/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "$SITE" > "$BENCH_SITE/_main_venv.pth"
"$BENCH/bin/python" -m pip install --quiet "boxmot==25.0.0"
"$BENCH/bin/python" -c 'import boxmot; print("boxmot", boxmot.__version__, "ready in .venv-bench")'
