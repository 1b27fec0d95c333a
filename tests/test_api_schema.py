"""Property-based requests from the OpenAPI schema (schemathesis): none may make the server fail (5xx), and
every answer must match what the schema documents for it.

Bounded and repeatable: a fixed number of examples per operation, derandomized (the same inputs each run),
on SQLite, with an admin's token so the writes are exercised too. A generated destination's endpoint is
pointed at the local S3 server, so no request leaves the machine and none waits on a timeout.
"""

import pytest
import schemathesis
from schemathesis import checks
from hypothesis import HealthCheck, given, settings

from tests.support.api_deployment import bearer, running, stores  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow   # hundreds of generated requests per operation

EXAMPLES = 25   # per operation and mode: 17 operations x 2 modes x 25 = 850 requests
_SHAPE = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance]
# A schema-valid body may still break a rule of control/ (422): positive data need not be accepted.
CHECKS = {schemathesis.GenerationMode.POSITIVE: _SHAPE,
          schemathesis.GenerationMode.NEGATIVE: _SHAPE + [checks.negative_data_rejection]}


@pytest.fixture
def api(tmp_path, server, stores):
    with running(f"sqlite:///{tmp_path}/eventexport.db", tmp_path, server, stores) as ready:
        yield ready


def _operations(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=lambda mode: mode.value)
def test_no_request_makes_the_server_fail(api, mode):
    operations = _operations(api.client.app)
    assert len(operations) >= 17
    token = bearer(api.tenants["default"].admin)
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            if isinstance(case.body, dict) and case.method == "POST" and case.path in ("/api/v1/destinations",
                                                                                        "/api/v1/connection-tests"):
                case.body["endpoint_url"] = api.server.endpoint_url
            response = case.call(headers=token)
            assert response.status_code < 500, (case.method, case.formatted_path, response.text)
            case.validate_response(response, checks=CHECKS[mode])

        check()
