"""Schema-driven fuzzing of the service's own OpenAPI (schemathesis, in-process ASGI).

Every operation gets generated valid (positive) and invalid (negative) requests, sent as an
admin (who may call everything). The service must never answer 5xx, and its answers must be
what its OpenAPI documents (status codes, content types, response bodies).
"""

from __future__ import annotations

from collections import Counter

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from handoff_service.auth import create_account, issue_token
from handoff_service.vocabulary import Role

EXAMPLES_PER_OPERATION_AND_MODE = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_fuzzing_finds_no_server_errors_and_no_schema_violations(app: FastAPI, client) -> None:  # type: ignore[no-untyped-def]
    with app.state.ctx.sessions() as session:
        _row, token = issue_token(session, create_account(session, "fuzz-admin", Role.ADMIN))
        session.commit()
    headers = {"Authorization": f"Bearer {token}"}
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    operations = 0
    statuses: Counter[int] = Counter()

    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in schemathesis.GenerationMode:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def fuzz(case) -> None:  # type: ignore[no-untyped-def]
                response = case.call_and_validate(
                    headers=headers, checks=CHECKS, excluded_checks=[]
                )
                statuses[response.status_code] += 1

            try:
                fuzz()
            except Unsatisfiable:
                continue  # e.g. no invalid request exists for an operation without inputs
            except Exception as exc:  # collect every operation's failure, then report all
                failures.append(f"{operation.label} [{mode.value}]: {exc}")

    assert operations >= 20
    # the fuzzing reached the handlers, not only the validation layer
    assert statuses[201] + statuses[200] > 0 and statuses[422] > 0, statuses
    assert not failures, "\n\n".join(failures)
