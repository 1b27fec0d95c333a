"""Store profiles for devtools.generate: how repetitive the map texts are, how long and hostile the values.

Map texts repeat in real stores (a user's profile on each of their events, a device's details), and
an exporter that works once per distinct text gains from that. A large account's store can be far
less kind, so the exporter's speed is also measured on one where repetition does not help:
- `distinct="all"`: nearly every map text is distinct: a per-event `session_id` in the profile,
  random `lat`/`lon` coordinates in the properties, a `battery` reading in the device info;
- `long_values=True`: a long `page_title` property (30-90 words) full of what JSON and XML must
  escape (quotes, backslashes, line breaks, tabs, `<`, `&`, non-ASCII text, U+2028).

The additions are drawn per written file from a generator seeded by (seed, first row), and spliced
into the events' JSON text only when the file is written, so a store of millions of events never holds
them all in memory, and the default store stays byte for byte what it was.
"""

import json

import numpy as np

__all__ = ["DISTINCT", "LONG_PIECES", "Variety"]

DISTINCT = ("natural", "all")
LONG_PIECES = ('"quoted"', "back\\slash", "line\nbreak", "tab\there", "<b>bold</b>", "a & b", "x > y", "café",
               "日本語", "🚀", "O'Brien", "C:\\dir\\file.txt", "50%", "naïve", "\u2028", "Ωmega", "{json: [1]}",
               "the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "sale", "offer", "page")
_WORDS = (30, 90)
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _splice(text, members):
    """A JSON object text with `members` (JSON text, no braces) added at its end."""
    if not members:
        return text
    return "{" + members + "}" if text == "{}" else text[:-1] + "," + members + "}"


class Variety:
    """Adds the chosen profile's members to the event columns of one file as it is written."""

    def __init__(self, seed, distinct="natural", long_values=False):
        if distinct not in DISTINCT:
            raise ValueError(f"unknown distinct profile {distinct!r}; expected one of {', '.join(DISTINCT)}")
        self.seed, self.all_distinct, self.long_values = seed, distinct == "all", long_values

    @property
    def active(self):
        return self.all_distinct or self.long_values

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
        cols["event_props"] = [_splice(text, members) for text, members in zip(cols["event_props"], extras)]
        return cols
