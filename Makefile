# The two commands a newcomer needs: `make demo` and `make test`. Everything else is a building block.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test down lint bench bench-memory clean

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

## bench: the stream-step, verifier and handler benchmarks, then the whole path on a local stack of its own
## (.stack/bench, stopped afterwards) with each stage's cost; the last line is `end_to_end_events_per_s: N p99_ms: M`
bench: $(STAMP)
	$(BIN)/python benchmarks/verifier_throughput.py
	$(BIN)/python benchmarks/masking_throughput.py
	$(BIN)/python benchmarks/approval_join_cost.py
	$(BIN)/python benchmarks/handler_overhead.py
	$(BIN)/python benchmarks/siem_feed_cost.py
	$(BIN)/python benchmarks/path_benchmark.py --down

## bench-memory: the stream worker's RSS at 100k and at 1M events (minutes, hence not in `make bench`)
bench-memory: $(STAMP)
	$(BIN)/python benchmarks/path_benchmark.py --memory-check --down

clean: down
	rm -rf .stack
