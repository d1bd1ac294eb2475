# RepLens. `make run` starts the app, `make test` runs every test tier.
# torch and torchvision are pinned in constraints.txt (wheels pip finds locally); installing
# them first keeps pip from resolving another build from the index.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
HOST   ?= 127.0.0.1
PORT   ?= 8501
STAMP  := $(VENV)/.installed

.PHONY: install run test test-fast e2e bench lint samples clean chromium

install: $(STAMP)

# Re-install only when the dependency spec changes: a second `make install` is a no-op.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q -c constraints.txt "torch==2.14.1" "torchvision==0.29.1"
	$(PIP) install -q -c constraints.txt -e ".[dev,scale,models]"
	touch $(STAMP)

run: install
	$(PY) -m streamlit run app.py --server.address $(HOST) --server.port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "Installing Debian chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; }

# The browser tier mostly waits (page loads, Chromium, the server's reruns) while the other tiers
# keep a core busy, so the two run side by side; the browser tier's output follows the others'.
# The shipped samples are made first, so both do not replay them at once.
E2E_LOG := tests/e2e/artifacts/e2e-tier.log
test: install chromium
	$(PY) -c "from analysis.samples import ensure_samples; ensure_samples()"
	@mkdir -p $(dir $(E2E_LOG))
	@$(PY) -m pytest tests/e2e > $(E2E_LOG) 2>&1 & browser=$$!; \
	$(PY) -m pytest tests/unit tests/integration tests/app; fast=$$?; \
	wait $$browser; e2e=$$?; \
	echo "---------------- tests/e2e (run alongside; its log: $(E2E_LOG)) ----------------"; \
	cat $(E2E_LOG); \
	echo "unit, integration, app: exit $$fast; e2e: exit $$e2e"; \
	test $$fast -eq 0 && test $$e2e -eq 0

test-fast: install
	$(PY) -m pytest tests/unit tests/integration tests/app

e2e: install chromium
	$(PY) -m pytest tests/e2e -s

bench: install chromium
	$(PY) -m tests.bench.run_all

lint: install
	$(PY) -m ruff check .

samples: install
	$(PY) -m analysis.samples

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/e2e/artifacts
