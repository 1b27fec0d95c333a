"""Object names (transforms/sinks/naming.py): names that fit are percent-encoded exactly as DESIGN.md says,
and the map from event names to key parts is one to one, long, short and crafted names alike."""

import hashlib
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.expected import pct
from transforms.sinks.naming import MAX_BASENAME_BYTES, SHORTENED, object_key

RUN_TS, DAY, SUFFIX = "20261128093000", 20261120, ".json.gz"


def _part(name, request_id="RQ9", database_id="db_42"):
    """The event-name part of a data object's key."""
    key = object_key("", request_id, RUN_TS, name, DAY, 0, database_id, SUFFIX)
    assert len(key.encode()) <= MAX_BASENAME_BYTES
    return key[len(f"{request_id}-{RUN_TS}-"):-len(f"-{DAY}-0000-{database_id}{SUFFIX}")]


def _room(request_id="RQ9", database_id="db_42"):
    return MAX_BASENAME_BYTES - len(f"{request_id}-{RUN_TS}-") - len(f"-{DAY}-0000-{database_id}{SUFFIX}")


def _plane(plane):
    """Any character of Unicode plane `plane` (0-16) but a surrogate, which UTF-8 cannot carry."""
    return st.integers(plane << 16, (plane << 16) | 0xFFFF).map(lambda c: chr(0xE000 if 0xD800 <= c <= 0xDFFF else c))


CHARACTERS = st.one_of(st.sampled_from("A~%-._ 7Eabcdef0123456789/"), st.integers(0, 16).flatmap(_plane))
SHORT = st.text(CHARACTERS, max_size=30)
# Long: a short head and tail around a run of one character, so the cut falls anywhere in it.
LONG = st.builds(lambda head, filler, count, tail: head + filler * count + tail,
                 SHORT, CHARACTERS, st.integers(60, 220), SHORT).filter(lambda name: len(pct(name)) > _room())


@st.composite
def crafted(draw):
    """A name made to look like a long name's key part: that part itself, decoded, or in the old form."""
    long_name = draw(LONG)
    shortened = _part(long_name)
    old_form = pct(long_name)[:_room() - 13] + "~" + hashlib.sha256(long_name.encode()).hexdigest()[:12]
    return draw(st.sampled_from([shortened, urllib.parse.unquote(shortened), old_form,
                                 urllib.parse.unquote(old_form), shortened.replace(SHORTENED, "~")]))


NAMES = st.one_of(SHORT, LONG, crafted())


@settings(max_examples=300, deadline=None)
@given(NAMES, NAMES)
def test_distinct_names_never_share_a_key_part(one, other):
    if one != other:
        assert _part(one) != _part(other)


@settings(max_examples=200, deadline=None)
@given(NAMES)
def test_a_name_that_fits_is_written_exactly_as_its_encoding_and_only_a_shortened_one_holds_the_marker(name):
    part, encoded = _part(name), pct(name)
    if len(encoded) <= _room():
        assert part == encoded and SHORTENED not in part
    else:
        digest = hashlib.sha256(name.encode()).hexdigest()
        assert part.endswith(SHORTENED + digest) and encoded.startswith(part[:-len(SHORTENED + digest)])
        assert len(part) >= _room() - 11   # cut only between whole characters (at most 4 bytes, 12 chars)
    assert urllib.parse.quote(urllib.parse.unquote(part), safe="._~").replace("-", "%2D") in (part, part.replace(
        SHORTENED, "~"))   # well-formed percent-encoding either way


def test_the_issue_21_collision_is_gone():
    """20 events named 'A'*300 and 20 named as that name's old shortened part used to share one key."""
    long_name = "A" * 300
    old_part = "A" * (_room() - 13) + "~" + hashlib.sha256(long_name.encode()).hexdigest()[:12]
    assert _part(old_part) == old_part                   # fits: written as it is, as before
    assert _part(long_name) != old_part
    assert _part(long_name) == "A" * (_room() - 67) + "%7E" + hashlib.sha256(long_name.encode()).hexdigest()


@pytest.mark.parametrize("request_id, database_id", [("r", "d"), ("R" * 64, "D" * 64)])
def test_the_longest_ids_still_leave_room_for_a_cut_name(request_id, database_id):
    part = _part("日本語" * 100, request_id, database_id)
    assert SHORTENED in part and not part.startswith(SHORTENED)
