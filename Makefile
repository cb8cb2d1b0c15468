# The two commands a newcomer needs: `make demo` and `make test`. Everything else is a building block.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test down lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

## demo: fresh clone -> venv, dependencies, local stack up, a demo agent workload end to end, verify
demo: $(STAMP)
	$(BIN)/auditledger demo

## test: lint, then every test (the integration tests start their own stack and stop it)
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q

## down: stop the local stack that `make demo` started
down:
	@test -x $(BIN)/auditledger && $(BIN)/auditledger stack down || echo "nothing to stop"

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	$(BIN)/python benchmarks/path_throughput.py
	$(BIN)/python benchmarks/verifier_throughput.py
	$(BIN)/python benchmarks/masking_throughput.py
	$(BIN)/python benchmarks/approval_join_cost.py
	$(BIN)/python benchmarks/handler_overhead.py
	$(BIN)/python benchmarks/siem_feed_cost.py

clean: down
	rm -rf .stack
