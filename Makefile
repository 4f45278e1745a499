# nivel0 — one entry point for developers, CI and a laptop demo.
# `make run` builds everything that is missing or stale and starts the stack;
# `make test` builds what the tests need and runs lint, Rasa data validation and pytest.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON311 ?= $(firstword $(shell command -v python3.11) $(wildcard $(HOME)/.pyenv/versions/3.11.*/bin/python3.11))
PYTHON310 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.10.*/bin/python3.10) $(shell command -v python3.10))

VENV      := .venv
RASA_VENV := .venv-rasa
PY        := $(VENV)/bin/python
RASA      := $(RASA_VENV)/bin/rasa
RASA_MODEL := bot/models/nivel0.tar.gz
# The KB-adapted embedding model (knowledge/MODEL_CHOICE.md): deterministic, built once
# (~10 CPU-minutes) and again when its recipe changes; `make finetune` rebuilds it after large
# KB changes.
FINETUNED := var/models/minilm-nivel0/nivel0_model.json

# Nothing may phone home: models load from installed packages, Rasa telemetry is off.
export RASA_TELEMETRY_ENABLED ?= false
export HF_HUB_OFFLINE ?= 1
export TRANSFORMERS_OFFLINE ?= 1

RASA_SOURCES := $(shell find bot/config.yml bot/domain.yml bot/data intents -type f 2>/dev/null)


.PHONY: help venv finetune index train run test test-fast lint validate eval bench bench-chat bench-search bench-handoff bench-redaction bench-reports bench-scale lock lock-rasa clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

venv: $(VENV)/.installed $(RASA_VENV)/.installed ## create both Python environments (3.11 app, 3.10 Rasa)

$(VENV)/.installed: requirements/app.txt pyproject.toml
	@test -n "$(PYTHON311)" || { echo "Python 3.11 not found: set PYTHON311=/path/to/python3.11"; exit 1; }
	$(PYTHON311) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements/app.txt
	$(VENV)/bin/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

# uv installs the Rasa environment in seconds (pip needs ~100 s for the same pins).
$(RASA_VENV)/.installed: requirements/rasa.txt $(VENV)/.installed
	@test -n "$(PYTHON310)" || { echo "Python 3.10 not found: set PYTHON310=/path/to/python3.10"; exit 1; }
	$(VENV)/bin/uv venv --quiet --allow-existing --python $(PYTHON310) $(RASA_VENV)
	$(VENV)/bin/uv pip install --quiet --python $(RASA_VENV)/bin/python -r requirements/rasa.txt
	touch $@

$(FINETUNED): knowledge/finetune.py knowledge/distill.py | $(VENV)/.installed
	$(PY) -m knowledge.finetune

finetune: $(VENV)/.installed ## (re)build the KB-adapted embedding model in var/models/
	$(PY) -m knowledge.finetune

index: $(FINETUNED) ## build or refresh the KB embedding index (only changed articles are embedded)
	$(VENV)/bin/kb reindex --quiet

$(RASA_MODEL): $(RASA_SOURCES) $(RASA_VENV)/.installed
	cd bot && ../$(RASA) train --data data ../intents --out models --fixed-model-name nivel0

train: $(RASA_MODEL) ## train the Rasa model if it is missing or stale

run: venv index train ## start Rasa, action server, handoff service and website (Ctrl-C stops all)
	scripts/run_all.sh

lint: $(VENV)/.installed ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

validate: $(RASA_VENV)/.installed ## rasa data validate
	cd bot && ../$(RASA) data validate --data data ../intents --fail-on-warnings

test: venv index train lint validate ## everything CI runs: lint, data validation, the whole pytest suite
	scripts/ensure_services.sh
	scripts/ensure_chromium.sh
	$(PY) -m pytest

# The developer loop: lint and every test except the slow end-to-end ones (real Rasa, action
# server and handoff service as processes) and the browser ones (Playwright); needs no trained
# Rasa model. `make test` stays the complete run.
test-fast: venv index lint ## lint and pytest without the e2e and browser tests (< 3 min)
	scripts/ensure_services.sh
	$(PY) -m pytest -m "not e2e and not browser"

eval: venv index train ## answer quality on the held-out set: through the bot (REST) and the search library -> var/reports/eval{_chat,}.json
	$(PY) scripts/eval_chat.py --set tests/eval/test.yml --unanswerable tests/eval/unanswerable_shop.yml \
	  --unanswerable tests/eval/unanswerable_other.yml --dialogues tests/eval/dialogues.yml --out var/reports/eval_chat.json
	$(PY) -m knowledge.evaluate --set tests/eval/test.yml --out var/reports/eval.json

bench: bench-search bench-chat ## search and chat latency (bench-handoff, bench-scale: separate) -> var/reports/

bench-search: $(VENV)/.installed index ## embedding+search latency -> var/reports/bench_search.json
	$(PY) scripts/bench_search.py

bench-chat: venv index train ## reply latency through Rasa's REST channel -> var/reports/bench_chat.json
	$(PY) scripts/bench_chat.py

bench-handoff: $(VENV)/.installed ## handoff creation, 20 clients, SQLite and PostgreSQL -> var/reports/bench_handoff.json
	scripts/ensure_services.sh
	$(PY) scripts/bench_handoff.py

bench-redaction: $(VENV)/.installed ## redaction of a 1 MB transcript, before/after, and /healthz meanwhile -> var/reports/bench_redaction.json
	$(PY) scripts/bench_redaction.py

bench-reports: $(VENV)/.installed ## support reports over a generated month (100,000 conversations, PostgreSQL) -> var/reports/bench_reports.json
	scripts/ensure_services.sh
	$(PY) scripts/bench_reports.py

bench-scale: $(FINETUNED) ## a synthetic 10,000-article KB: index, update, memory, search -> var/reports/bench_scale.json
	$(PY) scripts/bench_scale.py

lock: ## re-pin requirements/app.txt from requirements/app.in (fresh venv)
	rm -rf var/lockenv && $(PYTHON311) -m venv var/lockenv
	var/lockenv/bin/pip install --quiet -r requirements/app.in
	(echo "# Python 3.11 environment, pinned. Regenerate from requirements/app.in with: make lock"; \
	 var/lockenv/bin/pip freeze | sed 's/^torch==\(.*\)+cpu$$/torch==\1/') > requirements/app.txt
	rm -rf var/lockenv

lock-rasa: $(VENV)/.installed ## re-pin requirements/rasa.txt (rasa==3.6.21 and what it resolves to)
	rm -rf var/lockenv-rasa && $(VENV)/bin/uv venv --quiet --python $(PYTHON310) var/lockenv-rasa
	$(VENV)/bin/uv pip install --quiet --python var/lockenv-rasa/bin/python rasa==3.6.21 jsonschema==3.2.0 python-stdnum==2.2
	(echo "# Python 3.10 environment for the Rasa server only (rasa==3.6.21 and what it pins), and"; \
	 echo "# python-stdnum for the chat channel's redaction (bot/redacting_channel.py)."; \
	 echo "# jsonschema is held at 3.2.0 (Rasa allows >=3.2,<4.18): Rasa re-checks its action-response"; \
	 echo "# schema on every custom-action call, 34 ms with 4.17 (draft 2020-12) against 4.5 ms with 3.2"; \
	 echo "# (draft 7) on the 2-core machine; three calls per chat turn."; \
	 echo "# Regenerate with: make lock-rasa"; \
	 $(VENV)/bin/uv pip freeze --python var/lockenv-rasa/bin/python) > requirements/rasa.txt
	rm -rf var/lockenv-rasa

clean: ## remove generated files (environments, index, models, reports)
	rm -rf $(VENV) $(RASA_VENV) var bot/models bot/results
