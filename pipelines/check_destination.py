"""`python -m pipelines.check_destination --destination s3://bucket[/prefix] --data_region EU`

Tests a destination with the customer's key, as the control plane does before saving it: lists the
bucket, puts a marker object under the prefix, checks the bucket's region. Exit 0 when all pass; the
error's own status (3 for the bucket or key, 2 for options) with one line naming the problem otherwise.
"""

import argparse
import sys

from pipelines.options import add_destination_arguments, s3_settings_from
from transforms.sinks.target import parse_destination
from transforms.errors import ConfigError, ExportError
from transforms.sinks.preflight import DATA_REGIONS, MARKER_NAME, check_destination

__all__ = ["main"]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m pipelines.check_destination", description=__doc__.split("\n")[2])
    parser.add_argument("--destination", required=True, help="s3://bucket[/prefix]")
    parser.add_argument("--data_region", "--data-region", choices=sorted(DATA_REGIONS),
                        help="the account's data region; the bucket must be in its AWS region")
    add_destination_arguments(parser)
    args = parser.parse_args(argv)
    try:
        destination = parse_destination(args.destination, s3_settings_from(vars(args)))
        if not destination.is_s3:
            raise ConfigError(f"--destination {args.destination!r}: the connection test is for s3:// destinations")
        region = check_destination(destination.s3, destination.bucket, destination.prefix, args.data_region)
    except ExportError as error:
        print(f"eventexport: error: {error}", file=sys.stderr)
        return error.exit_code
    print(f"ok: listed bucket {destination.bucket!r} (region {region}) and put "
          f"{destination.prefix}{MARKER_NAME}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
