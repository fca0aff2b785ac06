"""Racing writes through a real socket: check-and-set, and bindings racing creates and deletes.

Each round starts two requests on two connections at one barrier, so they reach the server
together; the assertions hold whichever the server serves first.
"""

from __future__ import annotations

import os
import threading
from typing import Any, Callable

import httpx
import pytest

SITE = "/v1/sites/default"
ROUNDS = 100 if os.environ.get("SITESECRETS_LONG") == "1" else 15


@pytest.fixture
def clients(live_server):
    """Two admin clients with their own keep-alive connection, and a third to set up and check."""
    made = [httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {live_server.admin_token}"}, timeout=20)
            for _ in range(3)]
    for c in made:
        assert c.get("/v1/whoami").status_code == 200  # open the connection before the races
    yield made
    for c in made:
        c.close()


def race(first: Callable[[], httpx.Response], second: Callable[[], httpx.Response]) -> tuple[httpx.Response, httpx.Response]:
    """Run both at once (released by one barrier); their answers in the order given."""
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def run(index: int, request: Callable[[], httpx.Response]) -> None:
        barrier.wait()
        try:
            answers[index] = request()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            answers[index] = error

    threads = [threading.Thread(target=run, args=(i, r)) for i, r in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert all(isinstance(a, httpx.Response) for a in answers), answers
    return answers[0], answers[1]


def audit_ids(admin: httpx.Client, action: str, target: str) -> list[int]:
    """Ids of the successful events of `action` on `target`: their commit order, as each event is
    written in its change's transaction."""
    items = admin.get("/v1/audit", params={"action": action, "target": target}).json()["items"]
    return [e["id"] for e in items if e["outcome"] == "ok"]


def test_two_updates_with_the_same_expected_version_one_wins_the_other_is_version_conflict(clients) -> None:
    a, b, check = clients
    for n in range(ROUNDS):
        name = f"CAS_{n}"
        assert check.post(f"{SITE}/secrets", json={"name": name, "value": "start"}).status_code == 201
        first, second = race(
            lambda: a.patch(f"{SITE}/secrets/{name}", json={"value": f"from-a-{n}", "expected_version": 1}),
            lambda: b.patch(f"{SITE}/secrets/{name}", json={"value": f"from-b-{n}", "expected_version": 1}),
        )
        statuses = sorted((first.status_code, second.status_code))
        assert statuses == [200, 409], (first.text, second.text)
        winner, loser = (first, second) if first.status_code == 200 else (second, first)
        assert loser.json()["error"]["code"] == "version_conflict"
        assert loser.json()["error"]["details"] == {"current_version": 2}
        assert winner.json()["version"] == 2
        revealed = check.post(f"{SITE}/secrets/{name}/reveal").json()
        expected = f"from-a-{n}" if winner is first else f"from-b-{n}"
        assert revealed == {"value": expected, "version": 2}


def test_create_racing_a_bind_always_ends_bound_and_served(clients) -> None:
    """A service may bind a secret that does not exist yet (docs/API.md lists it in `missing`), so a bind
    racing the secret's create succeeds either way; what must hold is that once both answered,
    the service binds the secret, nothing is reported missing, and its environment carries the value."""
    a, b, check = clients
    for n in range(ROUNDS):
        name, service = f"NEW_{n}", f"born-{n}"
        created, bound = race(
            lambda: a.post(f"{SITE}/secrets", json={"name": name, "value": f"value-{n}"}),
            lambda: b.post(f"{SITE}/services", json={"name": service, "secrets": [{"name": name}]}),
        )
        assert (created.status_code, bound.status_code) == (201, 201), (created.text, bound.text)
        described = check.get(f"{SITE}/services/{service}").json()
        assert described["secrets"] == [{"name": name, "app": None}] and described["stale"] == []
        assert check.get(f"{SITE}/secrets/{name}").json()["used_by"] == [service]
        env = check.get(f"{SITE}/services/{service}/env").json()
        assert env["env"] == {name: f"value-{n}"} and env["missing"] == []


def test_delete_racing_a_bind_never_removes_a_bound_secret(clients) -> None:
    """The invariant, given that binding a missing secret is allowed (it shows up in `stale`):

    - a delete never succeeds while a service binds the secret: if the bind was committed first,
      the delete is 409 `secret_in_use` naming the service and the secret is still there;
    - after a delete succeeded, a service binds that secret only through a bind committed after
      the delete (the audit log, written in each change's transaction, gives the commit order),
      and the service reports it as missing (`stale`, left out of the environment), never a 5xx.
    So no binding ever points at a secret that a delete removed from under it.
    """
    a, b, check = clients
    outcomes = set()
    for n in range(ROUNDS):
        name, service = f"OLD_{n}", f"late-{n}"
        assert check.post(f"{SITE}/secrets", json={"name": name, "value": f"value-{n}"}).status_code == 201
        deleted, bound = race(
            lambda: a.delete(f"{SITE}/secrets/{name}"),
            lambda: b.post(f"{SITE}/services", json={"name": service, "secrets": [{"name": name}]}),
        )
        assert bound.status_code == 201, bound.text
        described = check.get(f"{SITE}/services/{service}").json()
        env = check.get(f"{SITE}/services/{service}/env")
        assert env.status_code == 200, env.text
        if deleted.status_code == 204:
            outcomes.add("delete first")
            [delete_id] = audit_ids(check, "secret.delete", f"secret:site/{name}")
            [bind_id] = audit_ids(check, "service.create", f"service:{service}")
            assert bind_id > delete_id, "a delete succeeded although the bind had committed before it"
            assert check.get(f"{SITE}/secrets/{name}").status_code == 404
            assert described["stale"] == [{"name": name, "app": None}]
            assert env.json()["env"] == {} and env.json()["missing"] == [{"name": name, "app": None}]
        else:
            outcomes.add("bind first")
            assert deleted.status_code == 409, deleted.text
            assert deleted.json()["error"]["code"] == "secret_in_use"
            assert deleted.json()["error"]["details"]["services"] == [service]
            assert check.get(f"{SITE}/secrets/{name}").json()["used_by"] == [service]
            assert env.json()["env"] == {name: f"value-{n}"}
    assert outcomes  # which orders occurred depends on the machine; each was checked as it came
