"""Schemathesis against the server's own `/v1/openapi.json`, as an admin, with every check.

Each operation gets generated requests, valid and invalid (`mode: all`), and every answer must
be no 5xx, one of the statuses the document lists for that operation, with the content type,
headers and body schema it gives; valid requests must not be refused as invalid, invalid ones
must be refused. The stateful test chains operations through the links Schemathesis infers from
the document (create a site, then its apps, secrets, services...).

A fixed seed and a bounded number of examples keep `make test` short; `SITESECRETS_LONG=1`
(`make test-long`) runs many more. The bad-token rate limit is raised for these apps: Schemathesis
sends bad tokens on purpose (its `ignored_auth` check), and the limit has its own tests.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

import dbbackend
from server.app import create_app
from server.datadir import open_state
from server.ratelimit import FailureLimiter

LONG = os.environ.get("SITESECRETS_LONG") == "1"
EXAMPLES = 200 if LONG else 12
"""Examples per operation (and per phase); `make test-long` runs many more."""
STATEFUL_SCENARIOS = 200 if LONG else 15
SEED = 20261127


class Counting:
    """The WSGI app, counting the requests Schemathesis sends and the statuses it gets."""

    def __init__(self, app) -> None:
        self.app, self.statuses = app, Counter()

    def __call__(self, environ, start_response):
        def counting_start(status, headers, exc_info=None):
            self.statuses[int(status.split()[0])] += 1
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.app(environ, counting_start)


def make_schema(admin_token: str, app: Counting):
    config = schemathesis.Config.from_dict({
        "seed": SEED,
        "headers": {"Authorization": f"Bearer {admin_token}"},
        "generation": {"max-examples": EXAMPLES, "mode": "all", "deterministic": True},
        "checks": {"enabled": True},
        "phases": {"stateful": {"generation": {"mode": "positive"}, "max-steps": 12}},
        "operations": [
            # docs/API.md's 422s that depend on what is stored, which no schema can say: a typed value
            # that does not validate against its type (or a type the site lacks), a schema that
            # is not a valid JSON Schema, a binding of a site-level secret by an app that refuses them,
            # a recorded load naming a version the server never served
            *({"include-path-regex": path, "include-method": method,
               "checks": {"positive_data_acceptance": {"expected-statuses": ["2XX", 401, 403, 404, 409, 422, 429]}}}
              for method, path in (("POST", "/secrets$"), ("PATCH", "/secrets/{name}$"), ("POST", "/secret-types$"),
                                   ("PATCH", "/secret-types/{key}$"), ("POST", "/services$"), ("PATCH", "/services/{name}$"),
                                   ("POST", "/loads$"))),
            # a service naming an app that does not exist is 404 (docs/API.md), which this heuristic takes
            # for the site in the path having vanished right after its creation
            {"include-path": "/v1/sites/{site}/services", "include-method": "POST",
             "checks": {"ensure_resource_availability": {"enabled": False}}},
        ],
    })
    return schemathesis.openapi.from_wsgi("/v1/openapi.json", app, config=config)


def bare_app(state) -> Counting:
    app = create_app(state)
    app.limiter = FailureLimiter(threshold=10**9)
    return Counting(app)


@pytest.fixture(scope="module")
def sent() -> Counter:
    """Every status answered in this module, for the report at its end."""
    total: Counter = Counter()
    yield total
    print(f"\nschemathesis: {sum(total.values())} requests, statuses {dict(sorted(total.items()))}")


@pytest.fixture
def counted(state, sent):
    app = bare_app(state)  # the stateful test swaps in a fresh app per scenario
    yield app
    sent.update(app.statuses)


@pytest.fixture
def api_schema(state, admin_token, counted):
    return make_schema(admin_token, counted)


schema = schemathesis.pytest.from_fixture("api_schema")


# Each of the two tests below is one pytest test over every operation: about 30 s on a quiet
# 2-core machine, and four times that beside other suites, past the suite's 120 s per test.
LONG_TEST = pytest.mark.timeout(900)


@LONG_TEST
@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_every_operation_answers_as_its_openapi_document_says(case) -> None:
    case.call_and_validate()


@LONG_TEST
def test_chains_of_operations_answer_as_the_openapi_document_says(pristine_data_dir, admin_token, counted, tmp_path) -> None:
    """Each scenario starts on a fresh copy of the data directory, so a scenario replayed by
    Hypothesis meets the server it met the first time (else its data generation turns flaky)."""
    scenarios = iter(range(10**6))

    class Machine(make_schema(admin_token, counted).as_state_machine()):
        def setup(self) -> None:
            self.opened = open_state(dbbackend.settings_for(dbbackend.clone(pristine_data_dir, tmp_path / str(next(scenarios)))),
                                     environ={})
            counted.app = bare_app(self.opened).app

        def teardown(self) -> None:
            self.opened.store.close()

    Machine.run(settings=settings(max_examples=STATEFUL_SCENARIOS, deadline=None, database=None, derandomize=True,
                                  suppress_health_check=list(HealthCheck), stateful_step_count=8))
    created = sum(n for status, n in counted.statuses.items() if status == 201)
    assert created > 0, "the chains never created anything: the links between operations are missing"
