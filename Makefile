# srgan-edu: the two commands a newcomer needs are `make lab` and `make test`.
# Both create the virtual environment in .venv on first use (Python 3.10 or newer).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.srgan-edu-installed
LAB_ARGS := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root,)

.PHONY: help install lab test test-fast course exercises check-exercises benchmark clean

help:
	@echo "make lab      create .venv if needed and open JupyterLab on the first lesson"
	@echo "make test     create .venv if needed and run the whole test suite (unit tests and every notebook)"
	@echo "make course   execute every lesson and solution headless in fast mode into build/course/"
	@echo "make test-fast  unit tests only (skips executing notebooks and the browser test)"
	@echo "make exercises  rebuild exercises/ and solutions/ from their marked source"
	@echo "make benchmark  training throughput on this machine (steps, compile pay-back; BENCHMARK_DATA=folder: the data loader too)"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "srgan-edu needs Python 3.10 or newer; this is " + sys.version.split()[0] + ". Run: make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The whole repository in the file browser (lessons, exercises, solutions), lesson 00 open.
lab: install
	$(BIN)/jupyter lab $(LAB_ARGS) --ServerApp.root_dir=. --LabApp.default_url=/lab/tree/notebooks/00_setup_and_tour.ipynb

# Under CI (CI=true) the browser test must run, so its browser is installed first.
test: install
	@bash tools/ensure_browser.sh $(BIN)/python
	$(BIN)/python -m pytest -n auto --dist worksteal

test-fast: install
	$(BIN)/python -m pytest -n auto --dist worksteal -m "not notebook and not browser"

course: install
	$(BIN)/python -m srgan_edu.course run --out build/course

exercises: install
	$(BIN)/python -m srgan_edu.course build

check-exercises: install
	$(BIN)/python -m srgan_edu.course check

# Every mode, compile with its pay-back; with BENCHMARK_DATA=folder of HR images also the data loader and
# the step fed by it (by default DIV2K's sub-images, where `python -m srgan_edu subimages
# DIV2K_train_HR` has made them). More options: make benchmark BENCHMARK_ARGS="--steps 50 ..."
BENCHMARK_ARGS ?= --modes fp32 channels_last amp compile
BENCHMARK_DATA ?= $(wildcard $(or $(SRGAN_EDU_DATA),data)/DIV2K_train_HR_sub480)
benchmark: install
	$(BIN)/python -m srgan_edu benchmark $(BENCHMARK_ARGS) $(if $(BENCHMARK_DATA),--data $(BENCHMARK_DATA),)

clean:
	rm -rf build test-artifacts .pytest_cache
