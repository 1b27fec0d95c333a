"""`python -m pipelines.template_metadata`: Dataflow flex template metadata, written from the options.

The template's parameters are the pipeline's own options (pipelines/options.py), so the CLI, the control
plane and the template never drift apart; tests/test_templates.py checks the committed file is current.
"""

import json
import sys

from pipelines.options import OPTION_HELP, REQUIRED_OPTIONS, DESTINATION_OPTION_HELP

__all__ = ["metadata"]


def metadata():
    parameters = []
    for name, (text, settings) in {**OPTION_HELP, **DESTINATION_OPTION_HELP}.items():
        parameter = {"name": name, "label": name.replace("_", " ").capitalize(), "helpText": text,
                     "isOptional": name not in REQUIRED_OPTIONS}
        if settings.get("action") == "store_true":
            parameter["helpText"] += " (true or false)"
        parameters.append(parameter)
    return {"name": "eventexport", "description": "Export events or profiles from the event store to S3.",
            "parameters": parameters}


if __name__ == "__main__":
    json.dump(metadata(), sys.stdout, indent=2)
    sys.stdout.write("\n")
