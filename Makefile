# ComplaintFlow — `make help` lists the targets.
PY ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test unit lint bench chaos default-model schemas schemas-release clean stack-down

help: ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	@$(BIN)/pip install -q --disable-pip-version-check -U pip
	@# the build backend's notice about editable installs is not for users
	PYTHONWARNINGS=ignore::UserWarning $(BIN)/pip install -q --disable-pip-version-check -e '.[dev]'
	@touch $@

run: $(STAMP) ## local Kafka + PostgreSQL + all six workers + simulated feed, live (Ctrl-C stops all)
	$(BIN)/complaintflow run $(ARGS)

test: $(STAMP) ## the whole suite: unit, integration and e2e (starts its own broker and database)
	$(BIN)/pytest $(ARGS)

unit: $(STAMP) ## unit tests only (no broker, no database)
	$(BIN)/pytest tests/unit $(ARGS)

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check services schemas tests
	$(BIN)/mypy services schemas

bench: $(STAMP) ## the pipeline against bare Kafka on this machine (ARGS=--quick: small sizes)
	$(BIN)/python -m services.bench $(ARGS)

chaos: $(STAMP) ## kill workers, cut the database, lose a broker of three under load; then audit
	$(BIN)/complaintflow chaos $(ARGS)

default-model: $(STAMP) ## write the shipped labelled sets and retrain the shipped default routing model
	$(BIN)/python -m services.routing.training.write_sets

schemas: $(STAMP) ## re-export the JSON Schema of every topic into schemas/json
	$(BIN)/complaintflow schemas export

schemas-release: ## on a release: keep today's topic schemas as those later changes must stay compatible with
	cp schemas/json/*.schema.json schemas/released/

stack-down: $(STAMP) ## stop a stack left running by `complaintflow stack up`
	$(BIN)/complaintflow stack down

clean: ## remove the local data directory, the virtualenv and caches (not the jar cache)
	-@test -x $(BIN)/complaintflow && $(BIN)/complaintflow stack down >/dev/null 2>&1 || true
	rm -rf .complaintflow $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
