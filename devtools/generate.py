"""Generate a realistic, deterministic event store and profile store for eventexport.

Why: the exporter must be exercised against data that looks like a real analytics
store - skewed event mix, per-event property schemas, late and clock-skewed captures,
server-side events without device info, multi-version profiles and (with --hostile)
names/values that break naive CSV/JSON/HTML handling. Same seed and arguments give
byte-identical files, so tests and benchmarks can compare outputs exactly. `--distinct all` and
`--long-values` make a store where repetition does not help an exporter, `--hostile-values` one whose
keys and values fight every format's escaping (devtools.store_variety).

Layout (fmt in parquet|avro|jsonl; jsonl files are gzip with mtime=0):
    DIR/events/captured_date=YYYY-MM-DD/part-NNNNN.<ext>   (partitioned by captured_at)
    DIR/profiles/updated_date=YYYY-MM-DD/part-NNNNN.<ext>  (partitioned by updated_at)
    DIR/{events,profiles}/_watermark.json: complete before the day after --end (the store is whole)

Usage:
    python -m devtools.generate --out DIR --events N --days D --format parquet \
        [--seed S] [--end YYYY-MM-DD] [--profiles P] [--hostile] [--distinct natural|all] [--long-values]
        [--hostile-values]
"""
import argparse
import datetime as dt
import gzip
import hashlib
import json
import random
import unicodedata
from pathlib import Path

import fastavro
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from devtools.store_variety import DISTINCT, Variety
from transforms.sources.watermark import write_watermark

DAY_MS = 86_400_000
ROWS_PER_FILE = 50_000
EXT = {"parquet": "parquet", "avro": "avro", "jsonl": "jsonl.gz"}
# "json" columns are JSON-encoded strings in parquet/avro and nested objects in jsonl.
EVENT_FIELDS = [("event_id", "string"), ("event_name", "string"), ("event_time", "long"),
                ("captured_at", "long"), ("profile", "json"), ("device_info", "json"),
                ("event_props", "json")]
PROFILE_FIELDS = [("identity", "string"), ("object_id", "string"), ("updated_at", "long"),
                  ("properties", "json")]
# Relative frequencies: App Launched dominates, uninstalls are rare.
EVENT_WEIGHTS = {"App Launched": 30, "Product Viewed": 20, "Search": 12, "Notification Viewed": 10,
                 "Added To Cart": 8, "UTM Visited": 6, "Notification Clicked": 4, "Charged": 4,
                 "App Installed": 3, "App Uninstalled": 1}
# Captures per UTC hour: quiet at night, peaks in the evening.
HOUR_WEIGHTS = np.array([2, 1, 1, 1, 1, 2, 3, 5, 6, 6, 6, 6, 7, 6, 6, 6, 7, 8, 9, 10, 10, 8, 6, 4], float)
FIRST = ["Aarav", "Priya", "John", "María", "Chloé", "Wei", "Fatima", "Liam", "Zoë", "Kenji", "Ana"]
LAST = ["Sharma", "O'Brien", "Smith", "García", "Nguyễn", "Müller", "Tanaka", "Okafor", "D'Souza"]
TIERS = ["Bronze", "Silver", "Gold", "Platinum"]
TZS = ["Asia/Kolkata", "America/New_York", "Europe/London", "Asia/Tokyo", "UTC"]
DEVICES = {
    "Android": [("samsung", "SM-S918B"), ("Xiaomi", "2201116SG"), ("OnePlus", "CPH2449"), ("Google", "Pixel 8")],
    "iOS": [("Apple", "iPhone14,5"), ("Apple", "iPhone15,2"), ("Apple", "iPad13,4")],
}
OS_VERSIONS = {"Android": ["11", "12", "13", "14"], "iOS": ["16.7", "17.4", "18.1"],
               "Web": ["Windows 10", "macOS 14.4", "Linux", "Android 14"]}
SDK_VERSIONS = {"Android": ["6.2.1", "7.0.1"], "iOS": ["5.2.0", "6.0.0"], "Web": ["1.6.9", "1.9.0"]}
PRODUCTS = [("Shoes", "Running Shoe X"), ("Electronics", "Wireless Earbuds"), ("Books", "Dune"),
            ("Grocery", "Organic Honey 500g"), ("Fashion", "Denim Jacket")]
QUERIES = ["shoes", "iphone case", "red dress", "earbuds", "organic honey", "jacket size m"]
HOSTILE_NAMES = ["Sign Up Completed", "checkout/step-2", "pre-order-placed", "User's \"Quote\" Event",
                 "🎉 Party", ("Very long event name " * 10)[:200], "Items, Bought"]
HOSTILE_PROPS = {"multi line": "line1\nline2\r\nline3\rend", "csv.like": 'a,b,"c",d',
                 "html": "<script>alert('x')</script> & <b>bold</b> > 1", "tab\tkey": "a\tb",
                 "control": "x\x01y\x1fz", "big.blob": ("3KB payload éü🙂 " * 200)[:3072],
                 "unicode": "naïve café 日本語 Ωmega 🚀", "key with spaces.and.dots": 1.5,
                 "null value": None, "flag": True, "count": -7}
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _ascii(text):
    """Lower-case ASCII letters only, so names like "Nguyễn" yield plausible emails."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in plain.lower() if c.isalnum())


def _build_profiles(rng, r, count, days, start_ms):
    """Return (per-profile event snapshot JSON, device dicts, profile-store columns).

    First versions mostly predate the window (existing users), some are sign-ups inside
    it; 30% of profiles get 1-2 later versions on later days so "latest as of T" matters.
    """
    numbers = rng.permutation(10 * count)[:count] + 1_000_000
    platforms = rng.choice(["Android", "iOS", "Web"], count, p=[0.55, 0.3, 0.15])
    multi = set(rng.permutation(count)[: round(0.3 * count)].tolist())
    snapshots, devices, versions = [], [], []
    for i in range(count):
        identity, platform = str(numbers[i]), str(platforms[i])
        object_id = "__g" + r.getrandbits(128).to_bytes(16, "big").hex()
        first, last = r.choice(FIRST), r.choice(LAST)
        props = {"Name": f"{first} {last}", "Email": f"{_ascii(first)}.{_ascii(last)}{i}@example.com",
                 "Gender": r.choice("MFO"), "Customer Type": r.choice(TIERS[:2]), "Tz": r.choice(TZS),
                 "MSG-push": r.random() < 0.7}
        if r.random() < 0.8:
            props["Phone"] = f"+91{r.randrange(7_000_000_000, 9_999_999_999)}"
        snap = {"identity": identity, "objectId": object_id, "email": props["Email"],
                "name": props["Name"], "platform": platform}
        if "Phone" in props:
            snap["phone"] = props["Phone"]
        snapshots.append(_encode(snap))
        sdk, os_version = r.choice(SDK_VERSIONS[platform]), r.choice(OS_VERSIONS[platform])
        if platform == "Web":
            devices.append({"browser": r.choice(["Chrome", "Safari", "Firefox", "Edge"]),
                            "os_version": os_version, "sdk_version": sdk})
        else:
            make, model = r.choice(DEVICES[platform])
            devices.append({"make": make, "model": model, "os_version": os_version, "sdk_version": sdk,
                            "app_version": r.choice(["5.11.0", "5.12.0", "5.12.1"])})
        first_day = r.randrange(-14, days - 1) if i in multi else (
            r.randrange(-14, 0) if r.random() < 0.7 else r.randrange(0, days))
        later = sorted(r.sample(range(first_day + 1, days), min(r.randint(1, 2), days - 1 - first_day))
                       ) if i in multi else []
        for n, day in enumerate([first_day] + later):
            if n:  # each update really changes something: tier upgrade, push opt-in flip
                props = dict(props, **{"Customer Type": TIERS[min(TIERS.index(props["Customer Type"]) + 1, 3)],
                                       "MSG-push": not props["MSG-push"]})
            versions.append((start_ms + day * DAY_MS + r.randrange(DAY_MS), identity, object_id, _encode(props)))
    versions.sort()
    cols = {"updated_at": np.array([v[0] for v in versions], np.int64), "identity": [v[1] for v in versions],
            "object_id": [v[2] for v in versions], "properties": [v[3] for v in versions]}
    return snapshots, devices, cols


def _event_props(r, name, device):
    """Per-event properties; the key set depends on the event name, as in real SDK data."""
    if name in ("App Launched", "App Installed"):
        props = {"ct_sdk_version": device.get("sdk_version"), "ct_app_version": device.get("app_version"),
                 "ct_os_version": device.get("os_version"), "ct_source": "Web" if "browser" in device else "Mobile"}
        if name == "App Launched":  # location is missing when the user denied the permission
            located = r.random() < 0.8
            props["ct_latitude"] = round(r.uniform(-60, 70), 4) if located else None
            props["ct_longitude"] = round(r.uniform(-180, 180), 4) if located else None
        return props
    if name in ("Notification Viewed", "Notification Clicked"):
        campaign = r.randrange(1_700_000_000, 1_700_100_000)
        props = {"wzrk_id": f"{campaign}_{r.randrange(4)}",
                 "wzrk_pivot": r.choice(["wzrk_default", "Variant A", "Variant B"]), "campaign_id": campaign}
        if name == "Notification Clicked":
            props["wzrk_dl"] = r.choice(["app://offers", "https://example.com/sale?ref=push", None])
        return props
    if name == "UTM Visited":
        return {"utm_source": r.choice(["google", "facebook", "newsletter"]),
                "utm_medium": r.choice(["cpc", "email", "social"]), "utm_campaign": r.choice(["diwali_sale", "bf2024"])}
    if name == "Charged":
        return {"Amount": round(r.uniform(5, 500), 2), "Currency": r.choice(["INR", "USD", "EUR"]),
                "Payment mode": r.choice(["Card", "UPI", "COD", "Wallet"]), "Items count": r.randint(1, 6),
                "Charged ID": f"ORD-{r.randrange(10**9):09d}", "Coupon": r.choice([None, None, "SAVE10"])}
    if name in ("Product Viewed", "Added To Cart"):
        category, product = r.choice(PRODUCTS)
        price = r.randrange(99, 4999) if r.random() < 0.5 else round(r.uniform(0.99, 499.99), 2)
        props = {"Category": category, "Product name": product, "Price": price}
        props.update({"In stock": r.random() < 0.9} if name == "Product Viewed" else {"Quantity": r.randint(1, 3)})
        return props
    if name == "Search":
        return {"query": r.choice(QUERIES), "Results count": r.randrange(0, 200)}
    return {}  # App Uninstalled is detected server-side and carries no properties


def _build_events(rng, r, n, hostile, days, start_ms, snapshots, devices):
    """Return event columns sorted by captured_at; times are vectorised, JSON built per event."""
    names = list(EVENT_WEIGHTS) + (HOSTILE_NAMES if hostile else [])
    weights = np.array(list(EVENT_WEIGHTS.values()), float)
    kind = np.concatenate([rng.choice(len(weights), n, p=weights / weights.sum()),
                           np.arange(len(EVENT_WEIGHTS), len(names))])
    total = len(kind)
    activity = 1.0 / np.arange(1, len(snapshots) + 1) ** 0.7  # a few power users, a long tail
    who = rng.permutation(len(snapshots))[rng.choice(len(snapshots), total, p=activity / activity.sum())]
    captured = (start_ms + rng.integers(0, days, total) * DAY_MS
                + rng.choice(24, total, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum()) * 3_600_000
                + rng.integers(0, 3_600_000, total))
    roll = rng.random(total)
    lag = np.where(roll < 0.03, rng.integers(DAY_MS, 3 * DAY_MS + 1, total),  # offline SDK queue
                   np.where(roll < 0.04, -rng.integers(1_000, 600_001, total),  # device clock ahead
                            rng.integers(200, 8_000, total)))  # normal: a few seconds
    ids = rng.bytes(16 * total).hex()
    device_strs, empty_device = [_encode(d) for d in devices], _encode({})
    props, device_json = [], []
    kind_list, who_list = kind.tolist(), who.tolist()  # plain ints index lists much faster
    for k, p in zip(kind_list, who_list):
        name = names[k]
        server_side = name == "App Uninstalled" or (name == "Charged" and r.random() < 0.3)
        device_json.append(empty_device if server_side else device_strs[p])
        props.append(_encode(HOSTILE_PROPS if k >= len(EVENT_WEIGHTS) else _event_props(r, name, devices[p])))
    order = np.argsort(captured, kind="stable")
    idx = order.tolist()
    return {"event_id": [ids[32 * i:32 * i + 32] for i in idx], "event_name": [names[kind_list[i]] for i in idx],
            "event_time": (captured - lag)[order], "captured_at": captured[order],
            "profile": [snapshots[who_list[i]] for i in idx], "device_info": [device_json[i] for i in idx],
            "event_props": [props[i] for i in idx], "plain": (kind < len(EVENT_WEIGHTS))[order]}


def _write_file(path, fmt, record_name, fields, cols, sync_marker):
    """Write one part file; every format is written so identical input gives identical bytes."""
    if fmt == "parquet":
        pq.write_table(pa.table({f: pa.array(cols[f], pa.int64() if t == "long" else pa.string())
                                 for f, t in fields}), path, compression="snappy")
        return
    names = [f for f, _ in fields]
    columns = [cols[f].tolist() if t == "long" else cols[f] for f, t in fields]
    if fmt == "avro":
        schema = fastavro.parse_schema({"type": "record", "name": record_name, "fields": [
            {"name": f, "type": "long" if t == "long" else "string"} for f, t in fields]})
        with open(path, "wb") as fo:
            fastavro.writer(fo, schema, (dict(zip(names, row)) for row in zip(*columns)),
                            codec="deflate", sync_marker=sync_marker)
        return
    render = [(f'"{f}":', str if t == "long" else (lambda v: v) if t == "json" else _encode) for f, t in fields]
    lines = ("{" + ",".join(key + fn(v) for (key, fn), v in zip(render, row)) + "}\n" for row in zip(*columns))
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write("".join(lines).encode("utf-8"))


def _write_store(root, partition, time_field, record_name, fields, cols, fmt, sync_marker, variety=None):
    """Partition rows (sorted by time_field) by UTC date and split days into <=50k-row parts."""
    day_numbers = cols[time_field] // DAY_MS
    days, starts = np.unique(day_numbers, return_index=True)
    bounds = list(starts) + [len(day_numbers)]
    written = []
    for k, day in enumerate(days):
        folder = root / f"{partition}={dt.date(1970, 1, 1) + dt.timedelta(days=int(day))}"
        folder.mkdir(parents=True)
        for part, lo in enumerate(range(bounds[k], bounds[k + 1], ROWS_PER_FILE)):
            hi = min(lo + ROWS_PER_FILE, bounds[k + 1])
            path = folder / f"part-{part:05d}.{EXT[fmt]}"
            part_cols = {f: cols[f][lo:hi] for f, _ in fields}
            if variety:
                part_cols = variety.apply(part_cols, lo, cols["plain"][lo:hi])
            _write_file(path, fmt, record_name, fields, part_cols, sync_marker)
            written.append(path)
    return written


def generate(out_dir, events, days, fmt, seed=0, end=None, profiles=None, hostile=False, distinct="natural",
             long_values=False, hostile_values=False):
    """Write DIR/events and DIR/profiles; return {"events", "profiles", "profile_versions", "files"}.

    Refuses to write into existing store folders so stale parts never mix with a new run.
    """
    if fmt not in EXT:
        raise ValueError(f"unknown format {fmt!r}; expected one of {sorted(EXT)}")
    if days < 1 or events < 0:
        raise ValueError("days must be >= 1 and events >= 0")
    variety = Variety(seed, distinct, long_values, hostile_values)
    out = Path(out_dir)
    for sub in ("events", "profiles"):
        if (out / sub).exists():
            raise FileExistsError(f"{out / sub} already exists; use an empty --out directory")
    end = end or dt.datetime.now(dt.timezone.utc).date()
    start_ms = (end - dt.date(1970, 1, 1)).days * DAY_MS - (days - 1) * DAY_MS
    rng = np.random.default_rng(seed)
    r = random.Random(int(rng.integers(2**63)))  # nosec B311  # test data, seeded on purpose; fast scalar draws
    sync_marker = hashlib.sha256(f"eventexport-sync-{seed}".encode()).digest()[:16]
    snapshots, devices, profile_cols = _build_profiles(rng, r, profiles or max(10, events // 20), days, start_ms)
    event_cols = _build_events(rng, r, events, hostile, days, start_ms, snapshots, devices)
    files = (_write_store(out / "events", "captured_date", "captured_at", "Event", EVENT_FIELDS,
                          event_cols, fmt, sync_marker, variety)
             + _write_store(out / "profiles", "updated_date", "updated_at", "Profile", PROFILE_FIELDS,
                            profile_cols, fmt, sync_marker))
    for sub in ("events", "profiles"):  # a finished snapshot: everything captured up to the end is in
        (out / sub).mkdir(parents=True, exist_ok=True)
        write_watermark(str(out / sub), start_ms + days * DAY_MS)
    return {"events": len(event_cols["event_id"]), "profiles": len(snapshots),
            "profile_versions": len(profile_cols["identity"]),
            "files": [p.relative_to(out).as_posix() for p in files]}


def main(argv=None):
    """CLI entry point; prints the counts as JSON (file list omitted to keep output short)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--events", type=int, required=True)
    parser.add_argument("--days", type=int, required=True)
    parser.add_argument("--format", choices=sorted(EXT), required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--end", type=dt.date.fromisoformat, help="last day with events (UTC); default today")
    parser.add_argument("--profiles", type=int, help="distinct identities; default max(10, events // 20)")
    parser.add_argument("--hostile", action="store_true", help="add events with hostile names and values")
    parser.add_argument("--distinct", choices=DISTINCT, default="natural",
                        help="all: nearly every profile, device and property text distinct")
    parser.add_argument("--long-values", action="store_true", help="long property values full of characters to escape")
    parser.add_argument("--hostile-values", action="store_true",
                        help="hostile keys and values in every event, a 3 KB value in a twelfth of them")
    args = parser.parse_args(argv)
    result = generate(args.out, args.events, args.days, args.format, seed=args.seed, end=args.end,
                      profiles=args.profiles, hostile=args.hostile, distinct=args.distinct,
                      long_values=args.long_values, hostile_values=args.hostile_values)
    print(json.dumps({**{k: v for k, v in result.items() if k != "files"}, "files": len(result["files"])}))


if __name__ == "__main__":
    main()
