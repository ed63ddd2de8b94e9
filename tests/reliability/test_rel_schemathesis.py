"""schemathesis against the app's own OpenAPI schema, in process (ASGI): no 500, and every
response conforms to the schema it declares.

Short form in CI (``MLPG_FUZZ_EXAMPLES`` examples per operation, default 25, with both
schema-valid and schema-breaking bodies); long form by hand:
``MLPG_FUZZ_LONG=1 pytest tests/reliability/test_rel_schemathesis.py -s`` (300 each).
The app runs with small work caps so that a random ``/train`` body finishes in milliseconds;
the caps are part of what is tested (a body over them must be a 422, not a 500 or a hang).
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from mlp_playground.app import create_app
from mlp_playground.config import Settings

LONG = os.environ.get("MLPG_FUZZ_LONG") == "1"
EXAMPLES = 300 if LONG else int(os.environ.get("MLPG_FUZZ_EXAMPLES", "25"))

APP = create_app(
    Settings(
        max_work=2e6,
        max_points_train=300,
        max_points_predict=2000,
        max_units=32,
        max_hidden_layers=3,
        max_grid_resolution=40,
        max_gradcheck_points=16,
    )
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CASES: Counter[str] = Counter()
STATUSES: Counter[tuple[str, int]] = Counter()


@pytest.fixture(scope="module", autouse=True)
def report_counts():
    yield
    total = sum(CASES.values())
    print(f"\nschemathesis: {total} cases over {len(CASES)} operations: {dict(CASES)}")
    print(f"schemathesis statuses: {dict(STATUSES)}")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_no_server_error_and_schema_conformance(case):
    response = case.call_and_validate(
        checks=[not_a_server_error, status_code_conformance, response_schema_conformance],
        excluded_checks=[negative_data_rejection],
    )
    key = f"{case.method} {case.path}"
    CASES[key] += 1
    STATUSES[(key, response.status_code)] += 1
    assert response.status_code < 500
