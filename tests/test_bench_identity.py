"""benchmarks.identity: the same code gives the same objects, and a changed object is found."""

import json

import pytest

from benchmarks.identity import main

pytestmark = pytest.mark.slow   # each profile is a real export, a child process


def test_identity_says_same_for_the_same_code_and_names_a_changed_object(tmp_path, capsys):
    work, before, after = str(tmp_path / "work"), str(tmp_path / "before.json"), str(tmp_path / "after.json")
    args = ["--workdir", work, "--events", "3000", "--profiles", "natural,hostile"]
    assert main([*args, "--out", before]) == 0
    assert main([*args, "--out", after, "--compare", before]) == 0
    assert "identical" in capsys.readouterr().out
    hashes = json.load(open(before))
    assert {profile: len(objects) > 1 for profile, objects in hashes.items()} == {"natural": True, "hostile": True}
    changed = sorted(hashes["hostile"])[0]
    hashes["hostile"][changed] = "0" * 64
    json.dump(hashes, open(before, "w"))
    assert main([*args, "--out", after, "--compare", before]) == 1
    assert changed in capsys.readouterr().out
