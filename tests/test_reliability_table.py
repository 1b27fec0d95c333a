"""The reliability table's own accounting (tests/support/reliability.py): it must catch every loss and duplicate."""

import pytest

from tests.support import reliability


@pytest.fixture
def scratch(monkeypatch):
    """Cases recorded here stay out of the session's table."""
    monkeypatch.setattr(reliability, "_CASES", [])
    return reliability


@pytest.mark.parametrize("exported, rejected, problem", [
    (["rid:a", "rid:b"], [], r"1 record\(s\) lost"),
    (["rid:a", "rid:b", "rid:c", "rid:a"], [], "written more than once"),
    (["rid:a", "rid:b"], ["rid:b", "rid:c"], "written more than once"),
    (["rid:a", "rid:b", "rid:c", "rid:z"], [], "never sent"),
])
def test_account_fails_on_a_loss_a_duplicate_or_a_stranger(scratch, exported, rejected, problem):
    with pytest.raises(AssertionError, match=problem):
        scratch.account("kills", "case", ["rid:a", "rid:b", "rid:c"], exported, rejected)
    (case,) = scratch.cases()
    assert case.lost == (1 if "lost" in problem else 0)


def test_account_records_exported_and_rejected_and_the_table_totals_them(scratch):
    scratch.account("bad records", "two bad", ["rid:a", "rid:b", "rid:c"], ["rid:a"], ["rid:b", "rid:c"])
    scratch.account("bad records", "none bad", ["rid:d"], ["rid:d"])
    scratch.record("kills", "by hand", 5, 0, 0)
    lines = scratch.table().splitlines()
    assert lines[0].split() == ["kind", "case", "exported", "rejected", "lost"]
    assert [line.split()[-3:] for line in lines[2:]] == [["5", "0", "0"], ["5", "0", "0"],   # KINDS order
                                                         ["1", "2", "0"], ["1", "0", "0"], ["2", "2", "0"]]
    assert lines[2].startswith("kills") and "= 2 tried" in lines[6]


def test_unknown_kind_is_refused(scratch):
    with pytest.raises(ValueError, match="not one of"):
        scratch.record("meteors", "case", 0, 0, 0)
