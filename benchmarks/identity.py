"""Are the objects the same bytes as before a change? Each bench store exported with the code on
PYTHONPATH, every object's SHA-256 written to OUT, and compared with an earlier OUT when given.

    PYTHONPATH=<tree> python -m benchmarks.identity --workdir W --out after.json [--compare before.json]
        [--format xml] [--events 200000] [--profiles natural,distinct,hostile]

Run it from the tree before the change first, then from the tree after (the stores under W are made once
and reused). Used for every encoder change that must keep its bytes (docs/xml-performance.md).
"""

import argparse
import hashlib
import json
import os
import shutil
import subprocess

from benchmarks.run import FORMATS, child_env, ours_command
from benchmarks.stores import STORE_PROFILES, describe_store, prepare_store


def object_hashes(folder):
    hashes = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = os.path.join(root, name)
            digest = hashlib.sha256()
            with open(path, "rb") as f:
                for block in iter(lambda: f.read(1 << 20), b""):
                    digest.update(block)
            hashes[os.path.relpath(path, folder)] = digest.hexdigest()
    return hashes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--compare")
    parser.add_argument("--format", choices=FORMATS, default="xml")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--profiles", default=",".join(STORE_PROFILES))
    args = parser.parse_args(argv)
    hashes = {}
    for profile in args.profiles.split(","):
        store, _ = prepare_store(args.workdir, args.events, 3, 1, profile)
        events = os.path.join(store, "events")
        destination = os.path.join(args.workdir, f"identity-{profile}")
        shutil.rmtree(destination, ignore_errors=True)
        subprocess.run(ours_command(events, destination, args.format, describe_store(events)["window"]),
                       check=True, env=child_env(), stdout=subprocess.DEVNULL)
        hashes[profile] = object_hashes(destination)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(hashes, f, indent=1, sort_keys=True)
    print({profile: len(objects) for profile, objects in hashes.items()}, "objects")
    if args.compare:
        with open(args.compare, encoding="utf-8") as f:
            before = json.load(f)
        differ = sorted((profile, key) for profile in hashes for key in set(before.get(profile, {})) | set(hashes[profile])
                        if before.get(profile, {}).get(key) != hashes[profile].get(key))
        print("identical" if not differ else f"{len(differ)} differ: {differ[:10]}")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
