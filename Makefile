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

# Who fills the venv: uv (INSTALLER=uv, the default) or pip (INSTALLER=pip). uv installs the
# same pins from the same sources as pip (tools/uv_args.py hands it pip's indexes and
# find-links: uv reads no pip configuration) in less time (bench/install.py, docs/speed.md);
# it is itself installed into the venv by pip, and if it fails, pip does the install. Like
# pip, it compiles the byte-code at install: else every stage process where
# PYTHONDONTWRITEBYTECODE is set compiled torch's sources again (about 8 s each, measured).
INSTALLER ?= uv
UV_PIN := uv==0.13.9
PIP := $(VENV)/bin/pip install --disable-pip-version-check -q
# $(call install,ARGS): `pip install ARGS`, by uv when INSTALLER=uv
define install
$(if $(filter uv,$(INSTALLER)),\
  { $(PIP) $(UV_PIN) && $(VENV)/bin/uv pip install -q --compile-bytecode --python $(VENV)/bin/python \
      $$($(VENV)/bin/python tools/uv_args.py) $(1); } \
  || { echo "make: uv failed; installing with pip" >&2; $(PIP) $(1); },\
  $(PIP) $(1))
endef

# torch/torchvision are pinned exactly: these pins are served from the local wheel cache.
$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(call install,-r requirements.txt -c constraints.txt)
	# the library itself, editable (pyproject.toml): `import unlearn` from any folder
	$(PIP) --no-deps --no-build-isolation -e .
	touch $(STAMP)

# The stale training, then unlearning stages are built side by side, one per core
# (python -m fanout --local; DVC itself runs one stage at a time), then `dvc repro` takes
# them from the run-cache and runs the rest. The same results as a bare `dvc repro`, which
# works too (docs/speed.md).
repro: $(STAMP)
	test -d .dvc || dvc init -q
	$(VENV)/bin/python -m fanout --local 'train_*'
	$(VENV)/bin/python -m fanout --local 'unlearn@*'
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
	$(call install,-r requirements-ray.txt -c constraints.txt)
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
