"""The store's completeness mark: `_watermark.json` at a store's root, `{"complete_before": <epoch ms>}`.

Ingesters land files some minutes after the captures they hold, so a window read the moment it ends
would miss what is still in flight, and the next window never looks back. The ingester advances the
mark once every capture before it is in the store; the control plane runs a window only after the
mark has passed the window's end. The mark is read through Beam's FileSystems, the same code that
lists and reads the store, so a local folder and an `s3://` store behave alike.
"""

import json
import os

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

from transforms.errors import SourceError

__all__ = ["WATERMARK_FILE", "read_watermark", "write_watermark"]

WATERMARK_FILE = "_watermark.json"   # leading "_": the store listing skips it, it is not data


def _path(root):
    return f"{root.rstrip('/')}/{WATERMARK_FILE}"


def read_watermark(root):
    """The store's `complete_before` in epoch ms, or None when the store has no mark.

    A mark that exists but cannot be read or parsed is an error: guessing would either hold every
    window back or let one run before its data is in.
    """
    path = _path(root)
    try:
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            text = handle.read()
    except Exception as error:  # Beam wraps every filesystem failure in its own BeamIOError
        raise SourceError(f"the store's completeness mark {path} cannot be read: {error}") from None
    try:
        value = json.loads(text)["complete_before"]
    except (ValueError, TypeError, KeyError):
        value = None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SourceError(f"the store's completeness mark {path} must hold {{\"complete_before\": <epoch ms>}}, "
                          f"an integer; it holds {text[:200]!r}. Fix it or remove it (then the settle delay applies)")
    return value


def write_watermark(root, complete_before_ms):
    """Set the mark, as an ingester does; readers never see half a file (rename locally, one PUT on S3)."""
    data = json.dumps({"complete_before": int(complete_before_ms)}).encode()
    path = _path(root)
    if "://" in root:
        with FileSystems.create(path, mime_type="application/json",
                                compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            handle.write(data)
        return
    temporary = f"{path}.tmp"
    with open(temporary, "wb") as handle:
        handle.write(data)
    os.replace(temporary, path)
