"""Store profiles for devtools.generate: how repetitive the map texts are, how long and hostile the values.

Map texts repeat in real stores (a user's profile on each of their events, a device's details), and
an exporter that works once per distinct text gains from that. A large account's store can be far
less kind, so the exporter's speed is also measured on one where repetition does not help:
- `distinct="all"`: nearly every map text is distinct: a per-event `session_id` in the profile,
  random `lat`/`lon` coordinates in the properties, a `battery` reading in the device info;
- `long_values=True`: a long `page_title` property (30-90 words) full of what JSON and XML must
  escape (quotes, backslashes, line breaks, tabs, `<`, `&`, non-ASCII text, U+2028);
- `hostile_values=True`: what every format must escape, in keys as well as values: each ordinary event
  gets two properties under keys that are no element name, CSV field or plain JSON string (`<tag>`,
  `say "hi"`, `tab\tkey`, a control character, an emoji, `=1+2`, `007`), a quarter of the profiles a
  `display name`, and a twelfth of the events a 3 KB `payload`. Their texts are windows of a per-file
  pool of pieces (markup, `]]>`, entities, quotes, commas, tabs, line breaks, control characters, emoji,
  text that looks like a number or a spreadsheet formula), so nearly every one is distinct; a value is
  null now and then, as real properties are. These members are written as Python's json writes by
  default, non-ASCII text as `\\u` escapes (an emoji as a surrogate pair), the rest of the text as is.

The additions are drawn per written file from a generator seeded by (seed, first row), and spliced
into the events' JSON text only when the file is written, so a store of millions of events never holds
them all in memory, and the default store stays byte for byte what it was.
"""

import json

import numpy as np

__all__ = ["DISTINCT", "LONG_PIECES", "HOSTILE_PIECES", "HOSTILE_KEYS", "PAYLOAD_CHARS", "Variety"]

DISTINCT = ("natural", "all")
LONG_PIECES = ('"quoted"', "back\\slash", "line\nbreak", "tab\there", "<b>bold</b>", "a & b", "x > y", "café",
               "日本語", "🚀", "O'Brien", "C:\\dir\\file.txt", "50%", "naïve", "\u2028", "Ωmega", "{json: [1]}",
               "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "sale", "offer", "page")
_WORDS = (30, 90)
HOSTILE_PIECES = ("<", ">", "&", "]]>", "<![CDATA[x]]>", "&amp;", "&#13;", "<!-- c -->", '"', "'", ",", ";", "\t",
                  "\n", "\r\n", "\r", "\x01", "\x08", "\x1f", "\x7f", "\\", "\u2028", "\ufeff", "🙂", "🎉",
                  "=SUM(A1:A9)", "+1", "-2.50", "@cmd", "007", "1e5", "NaN", "true", "null", "é", "日本",
                  "word", "text", "value", "item")
HOSTILE_KEYS = ("<tag>", "a&b", 'say "hi"', "col,1", "tab\tkey", "line\nkey", "ctl\x01key", "🙂 smile",
                "=1+2", "007", "xml:lang", "entry")
PAYLOAD_CHARS = 3072
_PAYLOAD_SHARE = 12     # one event in this many
_POOL_PIECES = 8192     # a file's pool: about 40 KB of pieces, values are windows of it
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_encode_ascii = json.JSONEncoder(separators=(",", ":")).encode


def _splice(text, members):
    """A JSON object text with `members` (JSON text, no braces) added at its end."""
    if not members:
        return text
    return "{" + members + "}" if text == "{}" else text[:-1] + "," + members + "}"


class Variety:
    """Adds the chosen profile's members to the event columns of one file as it is written."""

    def __init__(self, seed, distinct="natural", long_values=False, hostile_values=False):
        if distinct not in DISTINCT:
            raise ValueError(f"unknown distinct profile {distinct!r}; expected one of {', '.join(DISTINCT)}")
        self.seed, self.all_distinct, self.long_values = seed, distinct == "all", long_values
        self.hostile_values = hostile_values

    @property
    def active(self):
        return self.all_distinct or self.long_values or self.hostile_values

    def apply(self, cols, first_row, plain):
        """`cols`: one file's event columns (sliced lists); `plain`: which of its rows are ordinary
        (not hostile) events, the ones that get a page title. Returns the columns with the additions."""
        if not self.active:
            return cols
        draw = np.random.default_rng([self.seed, first_row])
        n = len(cols["profile"])
        extras = [""] * n
        cols = dict(cols)
        if self.all_distinct:
            sessions = draw.bytes(16 * n).hex()
            cols["profile"] = [_splice(text, f'"session_id":"{sessions[32 * i:32 * i + 32]}"')
                               for i, text in enumerate(cols["profile"])]
            battery = draw.random(n).round(6).tolist()
            cols["device_info"] = [text if text == "{}" else _splice(text, f'"battery":{level}')
                                   for text, level in zip(cols["device_info"], battery)]
            lat, lon = draw.uniform(-90, 90, n).round(7).tolist(), draw.uniform(-180, 180, n).round(7).tolist()
            extras = [f'"lat":{a},"lon":{b}' for a, b in zip(lat, lon)]
        if self.long_values:
            words = draw.integers(*_WORDS, n, endpoint=True).tolist()
            pieces = draw.integers(0, len(LONG_PIECES), (n, _WORDS[1]), dtype=np.uint8).tolist()
            for i in range(n):
                if plain[i]:
                    title = _encode(" ".join(map(LONG_PIECES.__getitem__, pieces[i][:words[i]])))
                    extras[i] += ("," if extras[i] else "") + '"page_title":' + title
        if self.hostile_values:
            cols["profile"], extras = _hostile(draw, cols["profile"], extras, plain)
        cols["event_props"] = [_splice(text, members) for text, members in zip(cols["event_props"], extras)]
        return cols


def _hostile(draw, profiles, extras, plain):
    """The hostile_values members: profiles with a `display name`, extras with hostile keys and payloads."""
    n = len(profiles)
    pool = "".join(map(HOSTILE_PIECES.__getitem__, draw.integers(0, len(HOSTILE_PIECES), _POOL_PIECES).tolist()))
    room = len(pool) - PAYLOAD_CHARS
    starts = draw.integers(0, room, (n, 4)).tolist()
    lengths = draw.integers(4, 80, (n, 3)).tolist()
    keys = draw.integers(0, len(HOSTILE_KEYS), (n, 2)).tolist()
    rolls = draw.integers(0, 4 * _PAYLOAD_SHARE, n).tolist()
    profiles = list(profiles)
    for i in range(n):
        window = [pool[s:s + length] for s, length in zip(starts[i], lengths[i])]
        if rolls[i] % 4 == 0:
            profiles[i] = _splice(profiles[i], '"display name":' + _encode_ascii(window[2]))
        if not plain[i]:
            continue
        first, second = HOSTILE_KEYS[keys[i][0]], HOSTILE_KEYS[keys[i][1]]
        members = {first: window[0], second: None if rolls[i] % 10 == 1 else window[1]}
        if rolls[i] < 4:
            members["payload"] = pool[starts[i][3]:starts[i][3] + PAYLOAD_CHARS]
        extras[i] += ("," if extras[i] else "") + _encode_ascii(members)[1:-1]
    return profiles, extras
