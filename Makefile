# BatchLab: `make run` starts the embedded stack, `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
# The environment docs/openapi.yaml is generated in (the test of the document uses the same).
OPENAPI_ENV := env BATCHLAB_EMBEDDED=1 BATCHLAB_TEST_HANDLERS=0 DJANGO_SETTINGS_MODULE=batchlab.settings
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast test-faults bench bench-webhooks install clean lint-imports openapi

$(PY):
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) pyproject.toml
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m devstack

# System packages the browser tests need (Debian's Chromium); idempotent.
/usr/bin/chromium:
	@if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null

# The layering contracts (pyproject.toml [tool.importlinter]) first: a broken layer fails fast.
lint-imports: $(STAMP)
	$(VENV)/bin/lint-imports

# The long fault scenarios (marker faults_full) stay out of `make test`: `make test-faults` runs them.
test: $(STAMP) /usr/bin/chromium lint-imports
	$(PY) -m pytest -m "not faults_full" --durations=40

# Every fault scenario (tests/faults), printing each checker table; replay one with BATCHLAB_FAULT_SEED=<seed>.
test-faults: $(STAMP)
	$(PY) -m pytest tests/faults -m faults -s -p no:cacheprovider

test-fast: $(STAMP)
	$(PY) -m pytest -m "not e2e and not browser"

bench: $(STAMP)
	$(PY) -m devstack.bench

# Webhooks: requests and write units per subscribed event, delivery latency, job throughput with a slow receiver.
bench-webhooks: $(STAMP)
	$(PY) -m devstack.bench_webhooks

clean:
	rm -rf $(VENV) var

# The committed OpenAPI document: run after any API change (tests/test_openapi_document.py fails until you do).
openapi: $(STAMP)
	$(OPENAPI_ENV) $(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml
	@echo "docs/openapi.yaml regenerated: review and commit it with your API change."
