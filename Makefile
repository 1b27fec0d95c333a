# Every target installs what it needs first, so each works alone on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The exact versions the tests passed with (pip freeze); `make install` keeps to them.
LOCK := constraints.txt
EXTRAS := dev,dask

.PHONY: install system-packages install-flink install-flink-cluster lock test test-fast reliability demo demo-cluster console bench clean

install: $(VENV)/.installed

# XML's native kernel is compiled by the editable install, so a change to its C source installs again.
$(VENV)/.installed: setup.py $(LOCK) $(wildcard transforms/formats/xml_native/*)
	bash .ci/compiler $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c $(LOCK) -e '.[$(EXTRAS)]'
	touch $@

# Beam's Flink job server, fetched once with Maven (never by Beam at run time): the Flink version is the one
# templates/runners/flink.toml pins (--flink_version), the Beam version the lock's. Runs on Flink pass
# --flink_job_server_jar=$(FLINK_JOB_SERVER) (docs/flink.md: Maven Central does not serve it today).
FLINK_VERSION := $(shell sed -n 's/.*--flink_version=\([0-9.]*\).*/\1/p' templates/runners/flink.toml)
BEAM_VERSION := $(shell sed -n 's/^apache-beam==//p' $(LOCK))
FLINK_JOB_SERVER_ARTIFACT := org.apache.beam:beam-runners-flink-$(FLINK_VERSION)-job-server:$(BEAM_VERSION)
FLINK_JOB_SERVER := .cache/flink/beam-runners-flink-$(FLINK_VERSION)-job-server-$(BEAM_VERSION).jar

FLINK_CLUSTER := .cache/flink/lib/.installed

# The standalone cluster's jars alone (devtools/flink/pom.xml), for devtools/local_flink.py.
install-flink-cluster: $(FLINK_CLUSTER)

$(FLINK_CLUSTER): devtools/flink/pom.xml
	@rm -rf $(dir $@) && mkdir -p $(dir $@)
	@mvn -q -B -f devtools/flink/pom.xml dependency:copy-dependencies -DoutputDirectory=$(CURDIR)/$(dir $@) \
	  >.cache/flink/maven-cluster.log 2>&1 \
	  || { echo "install-flink: Maven could not fetch the Flink cluster's jars (see .cache/flink/maven-cluster.log)" >&2; exit 1; }
	@touch $@

install-flink: $(FLINK_CLUSTER) $(FLINK_JOB_SERVER)

$(FLINK_JOB_SERVER):
	@mkdir -p $(dir $@)
	@mvn -q -B -U dependency:copy -Dartifact=$(FLINK_JOB_SERVER_ARTIFACT) -DoutputDirectory=$(dir $@) >$(dir $@)maven.log 2>&1 \
	  || { echo "install-flink: Maven could not fetch $(FLINK_JOB_SERVER_ARTIFACT) (see $(dir $@)maven.log and docs/flink.md)" >&2; exit 1; }

# Re-resolve setup.py's ranges to today's newest versions in a scratch venv and write them to the lock;
# then `make test` (install re-runs, the lock changed) and commit the lock if the tests pass.
lock:
	rm -rf $(VENV)-lock
	$(PYTHON) -m venv $(VENV)-lock
	$(VENV)-lock/bin/pip install --quiet --upgrade pip
	$(VENV)-lock/bin/pip install --quiet -e '.[$(EXTRAS)]'
	$(VENV)-lock/bin/pip freeze --exclude-editable | grep -v '^pkg[-_]resources==' > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	rm -rf $(VENV)-lock

# Chromium, PostgreSQL (started, trust auth on 127.0.0.1), Maven and Java 17, from Debian when missing.
system-packages:
	bash .ci/system-packages

# Two pytest-xdist workers, a test file each at a time (its module fixtures are made once); then, alone, the tests
# that restart a server the others share (marked serial).
PYTEST_PARALLEL = -n 2 --dist loadfile
TEST_POSTGRES = $${EVENTEXPORT_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/postgres}

test: install system-packages
	EVENTEXPORT_TEST_POSTGRES_URL=$(TEST_POSTGRES) $(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -m "not serial" tests
	EVENTEXPORT_TEST_POSTGRES_URL=$(TEST_POSTGRES) $(BIN)/python -m pytest -q -m serial tests

# The edit-test loop: everything but the tests marked slow (clusters, fault proxies, kills, the browser, the bench
# harness, PostgreSQL variants, tests of more than a few seconds); `make test` runs them all.
test-fast: install
	$(BIN)/python -m pytest -q $(PYTEST_PARALLEL) -m "not slow and not serial" tests

# The fault cases alone (also part of `make test`), with their table of rows exported, rejected and lost.
reliability: install
	$(BIN)/python -m pytest -q -m reliability tests

demo: install
	$(BIN)/python -m devtools.demo

# One export through a local Dask scheduler and two workers into the local S3 server (docs/cluster.md).
demo-cluster: install
	$(BIN)/python -m devtools.demo_cluster

console: install
	$(BIN)/python -m devtools.console_demo

# make bench EVENTS=5000000 PROFILE=natural|distinct|hostile REPEAT=3 [BENCH_ARGS="--formats json,xml"]
# [SCHEDULER_ARGS="--runs 20"] (the scheduler's many accounts and one long run: docs/scheduler.md)
EVENTS ?= 1000000
PROFILE ?= natural
REPEAT ?= 1
bench: install
	$(BIN)/python -m benchmarks.run --events $(EVENTS) --store-profile $(PROFILE) --repeat $(REPEAT) $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.scheduler $(SCHEDULER_ARGS)

clean:
	rm -rf $(VENV) $(VENV)-lock .cache demo-out demo-cluster-out console-out .pytest_cache
