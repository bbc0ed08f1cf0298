# `make repro` and `make test` are all the set-up a fresh machine needs.
PYTHON ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed
# the optional Ray extra, see repro-cluster
RAY_STAMP := $(VENV)/.installed-ray
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Idle OpenMP threads sleep instead of spinning: on a busy 2-core machine spinning
# threads made torch 7-100x slower (measured); on an idle one it costs nothing.
export OMP_WAIT_POLICY ?= PASSIVE
# Ray (optional extra) sends no usage statistics from this project's commands.
export RAY_USAGE_STATS_ENABLED ?= 0

.PHONY: venv repro test bench clean-venv

venv: $(STAMP)

# torch/torchvision are pinned exactly: these pins are served from the local wheel cache.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt -c constraints.txt
	# the library itself, editable (pyproject.toml): `import unlearn` from any folder
	$(VENV)/bin/pip install --disable-pip-version-check -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

repro: $(STAMP)
	test -d .dvc || dvc init -q
	dvc repro

test: $(RAY_STAMP)
	$(VENV)/bin/python -m pytest -q

bench: $(STAMP)
	$(VENV)/bin/python bench/metric.py
	$(VENV)/bin/python bench/bootstrap.py

clean-venv:
	rm -rf $(VENV)

# Ray, an optional extra (~250 MB installed): executor.kind: ray and the fan-out of
# train_retrained@<seed> stages over a Ray cluster. docs/cluster.md.
.PHONY: repro-cluster
$(RAY_STAMP): $(STAMP) requirements-ray.txt constraints.txt
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements-ray.txt -c constraints.txt
	touch $(RAY_STAMP)

# The stale reference models as Ray tasks (params' executor.address; null = this machine),
# then the rest of the pipeline, which takes them from DVC's run-cache.
repro-cluster: $(RAY_STAMP)
	test -d .dvc || dvc init -q
	$(VENV)/bin/python -m fanout
	dvc repro

# Fetch only the trained checkpoints (models/original/seed_<k>, models/retrained/seed_<k>) from the
# default DVC remote; `dvc pull` fetches everything. docs/comparing.md.
.PHONY: pull-checkpoints
pull-checkpoints: $(STAMP)
	dvc pull train_original train_retrained
