"""schemathesis against the live console's OpenAPI document: no input makes a server error.

Signed in as a community operator (so random ids of other tests' homes and alerts are outside
the scope), with the session's CSRF token on POSTs so that bodies get past the token check.
A bounded number of examples per operation keeps it to a few seconds.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.console_world import ServerThread, World, sign_in


EXAMPLES = 25


def test_no_input_makes_a_server_error(console: ServerThread, world: World) -> None:
    schema = schemathesis.openapi.from_url(console.url + "/api/v1/openapi.json")
    c = sign_in(console.url, world.users["opA"])
    cookies = dict(c.cookies)
    csrf = c.csrf  # type: ignore[attr-defined]
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 16
    seen: dict[str, set[int]] = {}

    for op in operations:
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case: schemathesis.Case) -> None:
            if case.method.upper() == "POST":
                case.headers = {**(case.headers or {}), "X-CSRF-Token": csrf}
            r = case.call(base_url=console.url, cookies=cookies, timeout=10)
            seen.setdefault(op.label, set()).add(r.status_code)
            assert r.status_code < 500, (case.method, case.formatted_path, case.query,
                                         case.body, r.status_code, r.text[:300])

        run()
    assert set(seen) == {op.label for op in operations}
    # The sweep reached the handlers, not only the sign-in and CSRF checks.
    assert any(200 in codes or 201 in codes for codes in seen.values()), seen
    assert any(422 in codes for codes in seen.values()), seen
