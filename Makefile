# Two commands on a fresh machine:  `make run`  and  `make test`.
# Each creates the virtual environment (.venv) first if it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAMPLE_DIR ?= data/sample
OUT_DIR ?= runs/sample

.PHONY: run test lint format sample clean-venv

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,onnx]'
	# The demo's browser test drives Debian's Chromium (Playwright cannot download its own here).
	if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; fi
	touch $(STAMP)

# Track a clip. `make run VIDEO=clip.mp4 ARGS="--detector yolo11n.pt --reid clip"`.
# With no VIDEO it tracks the project's own synthetic dance sample clip (dance preset; ARGS may
# override it), fully offline, replacing the sample's earlier outputs in $(OUT_DIR), and scores
# them against the sample's ground truth.
run: $(STAMP)
ifdef VIDEO
	$(PY) -m tracker.run $(VIDEO) --output-dir $(OUT_DIR) $(ARGS)
else
	$(PY) -m cgclip.data.synthetic sample --out $(SAMPLE_DIR)
	$(PY) -m tracker.run $(SAMPLE_DIR)/sample.mp4 --detections $(SAMPLE_DIR)/det.txt --output-dir $(OUT_DIR) --preset dance --overwrite $(ARGS)
	$(PY) -m tracker.eval --gt $(SAMPLE_DIR)/gt.txt --results $(OUT_DIR)/sample.mot.txt --out $(OUT_DIR)/sample.eval.json
endif

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

clean-venv:
	rm -rf $(VENV)
