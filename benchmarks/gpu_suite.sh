#!/usr/bin/env bash
# The GPU suite in one command (docs/gpu.md):
#
#   bash benchmarks/gpu_suite.sh                 # on the GPU machine: benchmarks/results/gpu/<device>.json
#   bash benchmarks/gpu_suite.sh --dry-run       # on a CPU, tiny sizes (CI runs this)
#   bash benchmarks/gpu_suite.sh --fetch-wheels  # here, where pip reaches PyPI: into .whl/
#
# The GPU machine reaches no package index. Whatever this repository needs and its Python lacks
# (open_clip_torch, ultralytics, supervision and their small pure-Python needs) travels as wheels
# in .whl/ (git-ignored; carry it), fetched beforehand with --fetch-wheels at the versions of the
# local environment, and is installed into a scratch folder, never over the machine's packages.
# torch-tensorrt and onnxruntime-gpu are too large to carry: the suite then reports TensorRT and
# ONNX-on-CUDA as unavailable and goes on. Other arguments go to `python -m benchmarks.gpu_suite`.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${PYTHON:-}" ]]; then PY=$PYTHON
elif [[ -x .venv/bin/python ]]; then PY=.venv/bin/python
else PY=python3
fi
WHEELS=(open_clip_torch ftfy wcwidth ultralytics ultralytics-thop supervision pyDeprecate defusedxml av)

if [[ "${1:-}" == "--fetch-wheels" ]]; then
  pins=()
  for name in "${WHEELS[@]}"; do
    version=$("$PY" -m pip show "$name" 2>/dev/null | sed -n 's/^Version: //p')
    pins+=("$name${version:+==$version}")
  done
  "$PY" -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
    -d .whl "${pins[@]}"
  du -sh .whl
  exit 0
fi

if ! "$PY" -c "import open_clip, ultralytics, supervision" 2>/dev/null; then
  if ! compgen -G ".whl/*.whl" >/dev/null; then
    echo "error: $PY lacks open_clip_torch/ultralytics/supervision and no .whl/ was carried;" \
      "run 'bash benchmarks/gpu_suite.sh --fetch-wheels' where pip works and carry .whl" >&2
    exit 2
  fi
  site=${TMPDIR:-/tmp}/cgclip-gpu-suite-site
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .whl/*.whl
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PY" -m benchmarks.gpu_suite "$@"
