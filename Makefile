# Two commands a newcomer needs: `make demo` and `make test`.  Everything else is optional.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
OUT ?= demo_output
# The suite runs on this many processes (pytest-xdist); TEST_WORKERS=0 runs it in one.
TEST_WORKERS ?= 2
# Cross compiler, newlib (C and C++) and QEMU: tf_expander_pruning.deployment.mcu (docs/mcu.md).
MCU_PACKAGES := gcc-arm-none-eabi libnewlib-arm-none-eabi libstdc++-arm-none-eabi-newlib qemu-system-arm
# Speech synthesiser for the offline spoken_words data set (tf_expander_pruning.research.spoken_words).
AUDIO_PACKAGES := espeak-ng

.PHONY: demo test test-fast lint bench install clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,deploy,research,data]"
	@command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || \
		(echo "installing a C compiler (gcc) for the C export tests"; \
		 (apt-get update -qq && apt-get install -y -qq gcc) || \
		 (sudo apt-get update -qq && sudo apt-get install -y -qq gcc))
	@command -v arm-none-eabi-gcc >/dev/null 2>&1 && command -v qemu-system-arm >/dev/null 2>&1 && \
		test -f "$$(arm-none-eabi-gcc -print-file-name=rdimon.specs)" && \
		test -f "$$(arm-none-eabi-g++ -print-file-name=libstdc++.a)" || \
		(echo "installing the Cortex-M toolchain and QEMU for the MCU tests ($(MCU_PACKAGES))"; \
		 (apt-get update -qq && apt-get install -y -qq $(MCU_PACKAGES)) || \
		 (sudo apt-get update -qq && sudo apt-get install -y -qq $(MCU_PACKAGES)))
	@command -v espeak-ng >/dev/null 2>&1 || \
		(echo "installing $(AUDIO_PACKAGES) for the spoken_words data set"; \
		 (apt-get update -qq && apt-get install -y -qq $(AUDIO_PACKAGES)) || \
		 (sudo apt-get update -qq && sudo apt-get install -y -qq $(AUDIO_PACKAGES)))
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m tf_expander_pruning.research.demo --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	for b in benchmarks/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) $(OUT) build *.egg-info
