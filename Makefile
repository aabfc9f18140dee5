# Thin wrappers; the README names these targets. Each brings up .venv itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: setup model teacher up demo train-demo distill-demo eval-demo test test-all test-docker bench lint clean

$(STAMP): pyproject.toml scripts/install_system_deps.sh
	./scripts/install_system_deps.sh
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Redis (if none answers), the verifier, inference and trainer on 8001-8003 until Ctrl-C.
up: model
	$(BIN)/cppforge up

# The whole loop over HTTP on a local stack (see the README's Set up); results in out/demo.
demo: $(STAMP) model
	rm -rf out/demo
	$(BIN)/cppforge demo

# The trainer's demo: 8 minutes of GSPO on the bootstrap model (CPU), held-out rates before/after.
train-demo: $(STAMP)
	rm -rf out/train-demo
	$(BIN)/cppforge train --recipe production --minutes 8 --out out/train-demo

# The trainer's tests train the bootstrap model: build it once here (~5 min of one core on a fresh
# machine, instant when cached), never inside a timed test.
model: $(STAMP)
	$(BIN)/cppforge bootstrap-model --if-missing

# The distillation teacher: a bigger bootstrap model (6 blocks, 2000 steps, the student's tokenizer); ~16 min of
# one core (39 min wall on a busy 2-core machine). Only make test-all and the distillation demo need it.
teacher: model
	$(BIN)/cppforge bootstrap-model --preset teacher --if-missing

# 3 minutes of distillation from the teacher into a LoRA on the bootstrap model, held-out before/after.
distill-demo: teacher
	rm -rf out/distill-demo
	$(BIN)/cppforge train --recipe distill --teacher "$$($(BIN)/python -c 'from services.lm.bootstrap import default_model_dir; print(default_model_dir("teacher"))')" --minutes 3 --out out/distill-demo

# pass@1/pass@5 of the bootstrap model on the trainer's held-out split (HumanEval-X format), with the PNG.
eval-demo: model
	$(BIN)/cppforge eval --tasks data/heldout_cpp.jsonl --n 10 --k 1,5 --out out/eval-demo

test: model
	./scripts/ensure_redis.sh
	./scripts/run_pytest.sh -q -m "not slow and not docker" --durations=20

test-all: model teacher
	./scripts/ensure_redis.sh
	./scripts/run_pytest.sh -q

# docker-compose.yml for real (README: Docker): builds the images, brings the stack up, tests it, takes it
# down. Needs a docker daemon; without one the tests skip (fail under CPPFORGE_REQUIRE_DOCKER=1, as in CI).
test-docker: $(STAMP)
	./scripts/run_pytest.sh -q -m docker

bench: $(STAMP)
	./scripts/ensure_redis.sh
	$(BIN)/python bench/verifier_naive.py
	$(BIN)/python bench/verifier_throughput.py
	$(BIN)/python bench/verifier_ceiling.py
	$(BIN)/python bench/best_of_n.py
	$(BIN)/python bench/train_step.py
	$(BIN)/python bench/inference_fairness.py

lint: $(STAMP)
	$(BIN)/ruff check services tests bench
	$(BIN)/ruff format --check services tests bench
	$(BIN)/mypy services

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
