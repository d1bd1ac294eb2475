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

test: install chromium
	$(PY) -m pytest tests/unit tests/integration tests/app tests/e2e

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
