"""Object names: `<prefix/><request id>-<run ts>-<event name>-<yyyymmdd>-<index>-<database id>.<ext>`.

Pure functions only: the run timestamp comes in as a value, never from a clock, so a retried run writes
the very same keys. The event name is percent-encoded (bytes outside A-Za-z0-9._~ become %XX; '-' too,
so the '-' separators stay unambiguous); the manifest keeps the raw name.

Long names: a local file name may hold 255 bytes, so a name whose object name would exceed
`MAX_BASENAME_BYTES` keeps as much of its encoded form as fits (cut between whole characters) and ends in
`SHORTENED` (`%7E`) and the 64 hex digits of the SHA-256 of the raw name. `%7E` is an escaped `~`, and
`~` is unreserved, so plain encoding writes it raw and never produces that escape; and every `%` of a
plain encoding starts an escape. So no name's plain encoding equals a shortened form (a crafted short
name cannot take a long name's key), two shortened forms are equal only if their names' SHA-256 are,
and the map from names to key parts is one to one. Names that fit are never touched, and a shortened
part is still well-formed percent-encoding (it decodes to the cut name, `~` and the digest).
"""

import hashlib
import re

from transforms.errors import ConfigError

__all__ = [
    "encode_event_name", "object_key", "manifest_key", "rejects_key", "check_id", "MAX_BASENAME_BYTES", "SHORTENED",
]

MAX_BASENAME_BYTES = 255  # ext4, XFS, APFS; S3 allows 1024 for the whole key
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~")
_ID_PATTERNS = {
    "--request_id": re.compile(r"[A-Za-z0-9._~-]{1,64}"),
    "--database_id": re.compile(r"[A-Za-z0-9._~]{1,64}"),
}
SHORTENED = "%7E"   # marks a shortened name part; see the module's docstring for why no plain name holds it


def check_id(option, value):
    """Ids go into keys unencoded, so they are limited to characters that need no encoding."""
    if not isinstance(value, str) or not _ID_PATTERNS[option].fullmatch(value):
        allowed = "letters, digits, '.', '_', '~'" + (" and '-'" if option == "--request_id" else "")
        raise ConfigError(f"{option} {value!r} is not allowed: use 1 to 64 of {allowed}")
    return value


def encode_event_name(name):
    return "".join(chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in name.encode("utf-8"))


def _splits(encoded, cut):
    """Would cutting `encoded` at `cut` split an escape, or a character's UTF-8 bytes (the next escape
    is a continuation byte, %80 to %BF)?"""
    return "%" in encoded[max(0, cut - 2):cut] or (encoded[cut] == "%" and encoded[cut + 1] in "89AB")


def _fit(encoded, raw, room):
    """Shorten an encoded name to `room` bytes, cutting only between whole characters."""
    if len(encoded) <= room:
        return encoded
    digest = SHORTENED + hashlib.sha256(raw.encode("utf-8")).hexdigest()
    cut = room - len(digest)
    if cut < 1:
        raise ConfigError("--request_id and --database_id leave no room for the event name; shorten them")
    while cut and _splits(encoded, cut):
        cut -= 1
    return encoded[:cut] + digest


def object_key(prefix, request_id, run_timestamp, event_name, day, index, database_id, suffix):
    """Full key of a data object; `day` is yyyymmdd as int or str, `suffix` like '.json.gz'."""
    head = f"{request_id}-{run_timestamp}-"
    tail = f"-{day}-{index:04d}-{database_id}{suffix}"
    room = MAX_BASENAME_BYTES - len(head) - len(tail)
    return prefix + head + _fit(encode_event_name(event_name), event_name, room) + tail


def manifest_key(prefix, request_id, run_timestamp):
    return f"{prefix}{request_id}-{run_timestamp}-manifest.json"


def rejects_key(prefix, request_id, run_timestamp, index):
    return f"{prefix}{request_id}-{run_timestamp}-rejects-{index:04d}.jsonl.gz"
