# Proctor hub — the two commands: `make run` and `make test`.
# Both create the virtualenv and install the project on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LOCK   := requirements.lock

.PHONY: run cluster test test-external test-cluster test-faults lint typecheck unit browser-deps oidc-deps node-deps haproxy-deps bench-hub bench-video bench-fanout bench-exam-day lock clean

# Reproducible installs: the exact versions and hashes of requirements.lock,
# then the project itself without resolving anything again.
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

## lock: re-resolve requirements.lock from pyproject.toml (after changing a dependency)
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra test --generate-hashes --python-version 3.11 -o $(LOCK)

## run: start the system (embedded PostgreSQL and Redis unless PROCTOR_*_URL are set)
run: $(STAMP)
	exec $(BIN)/proctor serve --demo

## cluster: the multi-process deployment on this machine: HUBS web processes, the
## persistence worker and the scheduler behind HAProxy (embedded PostgreSQL and Redis
## unless PROCTOR_*_URL are set); prints the one URL
HUBS ?= 3
cluster: $(STAMP) haproxy-deps
	exec $(BIN)/proctor cluster --hubs $(HUBS) --demo

## test: lint, types and the whole test suite (browser tests included)
test: $(STAMP) browser-deps oidc-deps node-deps haproxy-deps
	$(BIN)/ruff check proctor hub exam_api webrtc tests bench
	$(BIN)/mypy
	tests/js/node_modules/.bin/tsc -p tsconfig.json
	$(BIN)/python -m pytest -q -p no:cacheprovider

## test-external: the same suite against the PostgreSQL and Redis given by URL
test-external: $(STAMP) browser-deps oidc-deps node-deps haproxy-deps
	PROCTOR_TEST_DATABASE_URL=$${PROCTOR_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
	PROCTOR_TEST_REDIS_URL=$${PROCTOR_TEST_REDIS_URL:-redis://127.0.0.1:6379/0} \
	$(BIN)/python -m pytest -q -p no:cacheprovider

## test-cluster: the hub's and the ingest's integration tests (live still and
## video across processes included) on a 3-master Redis Cluster of the bundled
## redis-server, started on loopback ports by the tests (rule H8)
test-cluster: $(STAMP)
	PROCTOR_TEST_REDIS_CLUSTER=1 $(BIN)/python -m pytest -q -p no:cacheprovider tests/hub tests/webrtc

## test-faults: the fault tests against `proctor cluster` (tests/faults, not in `make
## test`): a browser exam on three processes, a killed hub, a killed persistence worker,
## restarted PostgreSQL and Redis, a soak. FAULT_SESSIONS live sessions (default 200), SOAK_SECONDS of soak (default 120);
## results in docs/reliability.md
FAULT_SESSIONS ?= 200
SOAK_SECONDS ?= 120
SOAK_SESSIONS ?= 200
test-faults: $(STAMP) haproxy-deps browser-deps
	PROCTOR_FAULT_SESSIONS=$(FAULT_SESSIONS) PROCTOR_SOAK_SECONDS=$(SOAK_SECONDS) \
	PROCTOR_SOAK_SESSIONS=$(SOAK_SESSIONS) \
	$(BIN)/python -m pytest -q -s -p no:cacheprovider --faults tests/faults

## haproxy-deps: Debian's HAProxy for `proctor cluster` and its tests
haproxy-deps:
	@bash scripts/ensure-haproxy.sh

## browser-deps: Debian's Chromium for the real-browser tests
browser-deps:
	@bash scripts/ensure-chromium.sh

## node-deps: the Node tests' packages (npm ci in tests/js and the mini-program's, pinned)
node-deps:
	@bash scripts/ensure-node-deps.sh

## oidc-deps: the tests' OpenID provider (npm ci in tests/oidc, pinned by its package-lock.json)
oidc-deps:
	@bash scripts/ensure-oidc-provider.sh

bench-hub: $(STAMP)
	$(BIN)/python bench/hub_load.py --sessions 5000 --duration 60

bench-video: $(STAMP)
	$(BIN)/python bench/video_load.py --streams 20 --duration 30

bench-fanout: $(STAMP)
	$(BIN)/python bench/fanout.py --viewers 100 --sessions-per-viewer 30 --duration 60

bench-exam-day: $(STAMP)
	$(BIN)/python bench/exam_day.py --candidates 2000 --window 300 --video 100

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
