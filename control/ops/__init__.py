"""Running the control plane in production: what it tells its operators and how it stops.

- `metrics`: Prometheus metrics, counted where the work happens (the scheduler's runs, leases, S3 retries).
- `state_metrics`: metrics read from the database at each scrape (runs by status, the oldest due window).
- `health`: liveness and readiness, and the scheduler's small HTTP server for them and its metrics.
- `shutdown`: SIGTERM and Ctrl-C: stop claiming, let the run finish or hand it back, exit.
- `service`: `eventexport scheduler`'s loop, with all of the above.
"""

__all__ = ["metrics", "state_metrics", "health", "shutdown", "service"]
