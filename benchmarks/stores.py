"""The benchmark's stores: generated once per profile and size under the work folder (reused while their
stamp matches), and described (window, events, raw JSON bytes) from the store itself with Arrow."""

import datetime as dt
import json
import os
import shutil
import time

__all__ = ["END_DATE", "STORE_PROFILES", "prepare_store", "describe_store"]

END_DATE = dt.date(2026, 11, 20)
DAY_MS = 86_400_000

# raw JSON line = these fixed parts + profile + (deviceInfo part unless empty) + eventProps
_FIXED = len('{"profile": ') + len(', "ts": ') + 14 + len(', "eventProps": ') + len("}\n")
_DEVICE_KEY = len(', "deviceInfo": ')


STORE_PROFILES = {"natural": {}, "distinct": {"distinct": "all", "long_values": True},
                  "hostile": {"distinct": "all", "hostile_values": True}}


def prepare_store(workdir, events, days, seed, profile="natural"):
    """Generate WORKDIR/store-PROFILE once; reuse it when its stamp says it has the same settings."""
    from devtools.generate import generate

    store = os.path.join(workdir, f"store-{profile}")
    stamp_path = os.path.join(store, "bench-store.json")
    wanted = {"events": events, "days": days, "seed": seed, "end": END_DATE.isoformat(), "format": "parquet",
              "profile": profile}
    if os.path.exists(stamp_path):
        with open(stamp_path, encoding="utf-8") as f:
            if json.load(f) == wanted:
                return store, {"generated": False, "generate_s": None}
        shutil.rmtree(store)  # ours (it has our stamp), made with other settings
    elif os.path.exists(store):
        raise SystemExit(f"{store} exists but was not made by this harness; use another --workdir")
    started = time.perf_counter()
    generate(store, events, days, "parquet", seed=seed, end=END_DATE, **STORE_PROFILES[profile])
    took = time.perf_counter() - started
    with open(stamp_path, "w", encoding="utf-8") as f:
        json.dump(wanted, f)
    return store, {"generated": True, "generate_s": took}


def describe_store(events_dir):
    """Window, counts and raw bytes, read from the store with Arrow (one file at a time)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    dataset = ds.dataset(events_dir, format="parquet", partitioning=None)
    low = high = None
    for batch in dataset.to_batches(columns=["event_time"]):
        lo, hi = pc.min_max(batch["event_time"]).values()
        low = lo.as_py() if low is None else min(low, lo.as_py())
        high = hi.as_py() if high is None else max(high, hi.as_py())
    start_ms = low // DAY_MS * DAY_MS
    end_ms = (high // DAY_MS + 1) * DAY_MS
    total = in_window = raw = 0
    for batch in dataset.to_batches(columns=["event_time", "profile", "device_info", "event_props"]):
        total += batch.num_rows
        inside = pc.and_(pc.greater_equal(batch["event_time"], start_ms), pc.less(batch["event_time"], end_ms))
        batch = batch.filter(inside)
        in_window += batch.num_rows
        device = pc.binary_length(batch["device_info"])
        device = pc.if_else(pc.equal(batch["device_info"], "{}"), 0, pc.add(device, _DEVICE_KEY))
        raw += (_FIXED * batch.num_rows + pc.sum(pc.binary_length(batch["profile"])).as_py()
                + pc.sum(device).as_py() + pc.sum(pc.binary_length(batch["event_props"])).as_py())
    files = [os.path.join(r, n) for r, _, names in os.walk(events_dir) for n in names if n.endswith(".parquet")]
    iso = lambda ms: dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return {"events": total, "events_in_window": in_window, "raw_bytes": raw,
            "raw_bytes_per_event": raw / in_window if in_window else None,
            "store_files": len(files), "store_bytes": sum(os.path.getsize(f) for f in files),
            "window": {"start": iso(start_ms), "end": iso(end_ms), "start_ms": start_ms, "end_ms": end_ms,
                       "time_basis": "event"}}
