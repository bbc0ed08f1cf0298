# `make repro` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning
# threads made torch 7-100x slower (measured); on an idle one it costs nothing.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: venv repro test bench clean-venv

venv: $(STAMP)

# torch/torchvision are pinned exactly: these pins are served from the local wheel cache.
$(STAMP): requirements.txt constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt -c constraints.txt
	touch $(STAMP)

repro: $(STAMP)
	test -d .dvc || dvc init -q
	dvc repro

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python bench/metric.py
	$(VENV)/bin/python bench/bootstrap.py

clean-venv:
	rm -rf $(VENV)

# Fetch only the trained checkpoints (models/original, models/retrained/seed_<k>) from the
# default DVC remote; `dvc pull` fetches everything. README: "Sharing and comparing".
.PHONY: pull-checkpoints
pull-checkpoints: $(STAMP)
	dvc pull train_original train_retrained
