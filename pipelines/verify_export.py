"""`python -m pipelines.verify_export --manifest COPY.json --destination s3://bucket[/prefix]`

Checks a finished run without reading a single object: the manifest comes from our own copy
(`--manifest_copy` of the export), the bucket is only listed. Says which check each object got (size and
MD5; size and multipart ETag; size alone for SSE-KMS objects: transforms/sinks/verification.py) and
reports objects that are missing, whose size or ETag differ, and objects of the run that the manifest
does not know. Exit 0 when all agree.
"""

import argparse
import hashlib
import json
import os
import sys

from pipelines.options import add_destination_arguments, s3_settings_from
from transforms.sinks.target import parse_destination
from transforms.errors import ExportError
from transforms.sinks.preflight import list_objects
from transforms.sinks.verification import CHECKS, expected_objects, verify_objects

__all__ = ["main"]


def _list_local(root, prefix):
    found = {}
    for entry in os.scandir(root):
        if entry.is_file() and entry.name.startswith(prefix):
            with open(entry.path, "rb") as handle:
                found[entry.name] = (entry.stat().st_size, hashlib.file_digest(handle, "md5").hexdigest())
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pipelines.verify_export", description=__doc__.split("\n")[2])
    parser.add_argument("--manifest", required=True, help="our copy of the run's manifest (a local file)")
    parser.add_argument("--destination", required=True, help="where the run wrote: s3://bucket[/prefix] or a folder")
    add_destination_arguments(parser)
    args = parser.parse_args(argv)
    try:
        with open(args.manifest, "rb") as handle:
            manifest_bytes = handle.read()
        manifest = json.loads(manifest_bytes)
        destination = parse_destination(args.destination, s3_settings_from(vars(args)))
        run_prefix = f"{destination.prefix}{manifest['request_id']}-{manifest['run_timestamp']}-"
        listed = (list_objects(destination.s3, destination.bucket, run_prefix) if destination.is_s3
                  else _list_local(destination.root, run_prefix))
    except (OSError, ValueError, KeyError) as error:
        print(f"eventexport: error: cannot read manifest {args.manifest!r}: {error}", file=sys.stderr)
        return 2
    except ExportError as error:
        print(f"eventexport: error: {error}", file=sys.stderr)
        return error.exit_code
    verification = verify_objects(expected_objects(manifest, manifest_bytes, destination.prefix), listed)
    for key, check in verification.checked.items():
        print(f"checked: {key} by {CHECKS[check]}")
    for finding in verification.findings:
        print(f"{finding.problem}: {finding.key} {finding.detail}".rstrip())
    bad = [f for f in verification.findings if f.problem != "unlisted"]
    counts = ", ".join(f"{n} by {CHECKS[check]}" for check, n in verification.counts().items())
    print(f"{'FAILED' if bad else 'ok'}: {len(listed)} objects listed, {len(bad)} problems, "
          f"{len(verification.findings) - len(bad)} unlisted; checked {counts or 'none'}")
    return 0 if verification.ok else 1


if __name__ == "__main__":
    sys.exit(main())
