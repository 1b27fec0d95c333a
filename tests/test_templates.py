"""Template metadata is generated from the pipeline options; the committed copy must be current."""

import json
import os

from pipelines.options import OPTION_HELP
from pipelines.template_metadata import metadata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_committed_metadata_matches_the_options():
    with open(os.path.join(ROOT, "templates", "metadata.json")) as handle:
        committed = json.load(handle)
    assert committed == metadata(), "run: python -m pipelines.template_metadata > templates/metadata.json"
    assert {p["name"] for p in committed["parameters"]} >= set(OPTION_HELP)
