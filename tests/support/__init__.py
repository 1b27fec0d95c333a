"""The tests' library: what they build, run and read with; tests/conftest.py holds the fixtures.

- `stores`: event and profile stores written per the store contract, the hand-written store, `ms`.
- `expected`: the suite's ids, object names, and what each output format must hold.
- `readers`: independent readers of our objects (never the project's encoders).
- `exports`: the exporter run with the suite's ids; `verify_export`, the oracle most export tests end with.
- `reliability`: the fault cases' table, every input record exported, rejected or lost.
- `s3_faults`: a seeded fault-injecting proxy in front of the local S3 server.
- `s3_worlds`: two S3 servers, the platform's and a customer's, for stores read from S3.
- `kill_child`: the exporter as a child process that stops at an exact point to be killed.
- `control_deployment`: a control-plane deployment driven through the `eventexport` CLI; a new database.
- `scheduler_runs`: a recurring window due now, for tests of real scheduler processes.
- `api_deployment`, `console_deployment`: deployments behind the REST API and the web console.
- `fault_fixtures`, `dask_fixtures`: fixtures of the fault cases and the session's Dask cluster, loaded
  by tests/conftest.py as plugins.

S3 tests run against a real moto server with IAM enforced (devtools/local_s3.py); the fault cases
are tests/test_s3_faults.py, test_kills.py, test_corrupt_input.py, test_late_data.py,
test_scheduler_failover.py and test_security.py.
"""
