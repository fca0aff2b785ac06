"""Services: which secrets a service binds, whether it runs stale versions, and its environment."""

from __future__ import annotations

from pydantic_core import to_json

from shared import models
from shared.models import ErrorCode

from .. import audit, envwait
from ..auth import expired
from ..context import Call, utc_now
from ..crypto import IntegrityError
from ..http import ApiError, Response, not_found, validation_error
from ..store import AppRow, ServiceRow, SiteRow, Transaction
from ..store.base import BindingRow, BoundSecret, EnvService, EnvSite
from .common import check_room, create_unique, load_app, load_site, query_flag, site_limits


def service_model(row: ServiceRow, bindings: list[BindingRow]) -> models.Service:
    refs = [models.SecretRef(name=b.name, app=b.app) for b in bindings]
    # a binding is stale when what the service loaded is not what exists now: a changed version, a
    # secret that appeared since the load (both mean "restart"), or one that does not exist yet;
    # a service that never loaded has nothing to restart, so only its missing secrets are stale
    changed = [row.loaded_at is not None and b.current_version is not None and b.current_version != b.loaded_version
               for b in bindings]
    stale = [ref for ref, b, moved in zip(refs, bindings, changed) if b.current_version is None or moved]
    restart = any(changed)
    loaded = [models.LoadedVersion(name=b.name, app=b.app, version=b.loaded_version) for b in bindings]
    return models.Service(name=row.name, app=row.app, secrets=refs, loaded_at=row.loaded_at,
                          restart_required=restart, stale=stale, loaded_versions=loaded)


def load_service(tx: Transaction, site: SiteRow, name: str) -> ServiceRow:
    row = tx.get_service(site.id, name)
    if row is None:
        raise not_found("service", name)
    return row


def resolve_refs(call: Call, tx: Transaction, site: SiteRow, app: AppRow | None,
                 refs: list[models.SecretRef]) -> list[tuple[int | None, str]]:
    """The bindings a service of `app` (None: of the site) may hold, as (app id, name); 422 otherwise.
    A binding may name a secret not made yet, but not one the site could never make: a name over
    its `max_name_length` binds only a secret that already has it (made under a higher limit)."""
    max_length = site_limits(call, site).max_name_length
    resolved: list[tuple[int | None, str]] = []
    errors = []
    for index, ref in enumerate(refs):
        path = f"/secrets/{index}"
        if ref.app is None:
            if app is not None and not app.site_secrets:
                errors.append({"path": path, "message": f"app {app.name!r} does not allow site-level secrets"})
            key = (None, ref.name)
        elif app is None or ref.app != app.name:
            errors.append({"path": path + "/app", "message": "a service may bind only its own app's secrets and site-level ones"})
            continue
        else:
            key = (app.id, ref.name)
        if key in resolved:
            errors.append({"path": path, "message": "this secret is listed twice"})
        elif len(ref.name) > max_length and tx.get_secret(site.id, key[0], ref.name) is None:
            errors.append({"path": path + "/name", "message": f"no secret of this site can have this name: "
                                                              f"names are at most {max_length} characters"})
        resolved.append(key)
    if errors:
        raise validation_error(errors)
    return resolved


def list_services(call: Call, site: str) -> models.ServiceList:
    def read(tx: Transaction) -> models.ServiceList:
        rows = tx.list_services(load_site(tx, site).id)
        bindings = tx.bindings([r.id for r in rows])
        return models.ServiceList(items=[service_model(r, [b for b in bindings if b.service_id == r.id]) for r in rows])

    return call.store.read(read)


def get_service(call: Call, site: str, name: str) -> models.Service:
    def read(tx: Transaction) -> models.Service:
        row = load_service(tx, load_site(tx, site), name)
        return service_model(row, tx.bindings([row.id]))

    return call.store.read(read)


def create_service(call: Call, site: str) -> models.Service:
    body = call.request.parse(models.ServiceCreate)

    def write(tx: Transaction) -> models.Service:
        site_row = load_site(tx, site)
        app = load_app(tx, site_row, body.app) if body.app else None
        refs = resolve_refs(call, tx, site_row, app, body.secrets)
        if tx.get_service(site_row.id, body.name):
            raise ApiError(ErrorCode.already_exists, f"service {body.name!r} already exists")
        check_room(call, site_row, "max_services", tx.count_in_site(site_row.id, "services"), "services")
        service_id = tx.insert_service(site_row.id, app.id if app else None, body.name, call.now)
        tx.replace_bindings(service_id, refs)
        audit.record(tx, call.event("service.create", site=site, target=f"service:{body.name}", details={"secrets": len(refs)}))
        row = load_service(tx, site_row, body.name)
        return service_model(row, tx.bindings([row.id]))

    return create_unique(call, write, f"service {body.name!r}")


def update_service(call: Call, site: str, name: str) -> models.Service:
    body = call.request.parse(models.ServiceUpdate)

    def write(tx: Transaction) -> models.Service:
        site_row = load_site(tx, site)
        row = load_service(tx, site_row, name)
        app = tx.get_app(site_row.id, row.app) if row.app else None
        tx.replace_bindings(row.id, resolve_refs(call, tx, site_row, app, body.secrets))
        audit.record(tx, call.event("service.update", site=site, target=f"service:{name}", details={"secrets": len(body.secrets)}))
        return service_model(row, tx.bindings([row.id]))

    return call.store.write(write)


def delete_service(call: Call, site: str, name: str) -> None:
    """Delete the service and revoke its tokens with it: a token left behind would read the
    environment of any later service of the same name."""

    def write(tx: Transaction) -> None:
        row = load_service(tx, load_site(tx, site), name)
        tx.delete_service(row.id)
        revoked = tx.delete_service_tokens(site, name)
        audit.record(tx, call.event("service.delete", site=site, target=f"service:{name}", details={"tokens_revoked": len(revoked)}))
        for token in revoked:
            audit.record(tx, call.event("token.delete", site=site, target=f"token:{token.id}",
                                        details={"name": token.name, "reason": "service.delete"}))

    call.store.write(write)


def service_env(call: Call, site: str, name: str) -> models.ServiceEnv:
    """The service's bound secrets as variables; records what it loaded, which clears `restart_required`,
    unless `?record=false` asks for the values alone (then `POST .../loads` records the start).

    Values are read and opened in one snapshot outside the writer, so the write is only the load
    record and the audit event. All or nothing: if one bound value fails its integrity check, the
    fetch is audited as an error and answers 500 rather than hand the service half its environment.
    """
    record = record_requested(call)
    condition = envwait.condition_of(call)
    snapshot = _snapshot(call, site, name)
    if condition is not None:
        snapshot = _until_changed(call, condition, snapshot, lambda: _snapshot(call, site, name))
        if isinstance(snapshot, Response):
            return snapshot
    site_row, service, bound, tag, _ = snapshot
    target = f"service:{name}"
    try:
        env, versions, missing = open_bound(call, site_row, bound)
    except IntegrityError as error:
        event = call.event("service.env", site=site, target=target, outcome="error", details={"error": "integrity_error", **error.args[0]})
        call.store.write(lambda tx: audit.record(tx, event))
        raise ApiError(ErrorCode.integrity_error, f"a secret of service {name!r} failed its integrity check; nothing was handed out") from None
    details: dict[str, object] = {"secrets": sorted(versions), "missing": len(missing)}
    if not record:
        details["recorded"] = False
    event = call.event("service.env", site=site, target=target, details=details)
    present = [b for b in bound if b.secret_id is not None]
    current = {(b.app_id, b.name): b.version for b in present}

    def write(tx: Transaction) -> None:
        if record:
            # under load most fetches land in a second the service was already loaded in: the
            # writer, which every audited read passes through, then skips that UPDATE
            tx.record_load(service.id, *changed_load(present, current, call.now), call.now,
                           touch_service=service.loaded_at != call.now)
        audit.record(tx, event)

    call.store.record(write)
    loaded = [{"name": b.name, "app": b.app, "version": b.version} for b in present]
    response = env_answer(env, versions, missing, loaded)
    response.headers.append(("ETag", tag))
    return response


def env_answer(env: dict[str, str], versions: dict[str, int], missing: list[models.SecretRef],
               loaded: list[dict[str, object]]) -> Response:
    """`models.ServiceEnv` to the byte (tests/server/test_api_services.py holds it to that), written
    by pydantic's own JSON serializer from what the store and the keyring handed over, in the
    model's field order. Validating that again into the model first (names that were validated
    when stored, versions and values that are ints and strs by their columns) cost more than half
    of the answer (callgrind: 97 k instructions against 42 k)."""
    body = to_json({"env": env, "versions": versions, "missing": missing, "loaded_versions": loaded})
    return Response(200, body, [("Content-Type", "application/json")])


_Snapshot = tuple[EnvSite, EnvService, list[BoundSecret], str, int]


def _snapshot(call: Call, site: str, name: str) -> _Snapshot:
    """The service's bindings as one snapshot sees them, with their ETag and the service's change
    counter as of that snapshot (what a wait waits to see pass)."""

    def read(tx: Transaction) -> _Snapshot:
        found = tx.env_snapshot(site, name)
        if found is None:
            raise not_found("site", site)
        site_row, service, site_secrets, bound = found
        if service is None:
            raise not_found("service", name)
        bound = permitted_bindings(bound, site_secrets)
        return site_row, service, bound, envwait.env_etag(bound), service.env_changes

    return call.store.read_env(read)


def _until_changed(call: Call, condition: envwait.Condition, snapshot: _Snapshot, again) -> _Snapshot | Response:
    """A snapshot whose tag the client does not hold, or 304 once `Prefer: wait` has passed (at
    once without one). Only a change that may alter this service's environment wakes the wait,
    which then reads it again (and waits on if the tag is still one the client holds)."""
    deadline = envwait.deadline_of(condition)
    waited = False
    with envwait.parked(call):
        while condition.unchanged(snapshot[3]):
            if condition.wait_seconds:
                # a watcher waits without holding its site's place at the gate, and does not queue
                # again when woken: only a change (a write, which took its turn) ends its wait early
                call.state.gate.step_aside()
            if not call.state.changes.wait(snapshot[1].id, snapshot[4], deadline):
                if not condition.wait_seconds:
                    return _not_modified(snapshot, condition)
                # the tag decides, not the counter: a watcher that stalled (its reads stuck behind a
                # database outage) may have missed a change, and a 304 would leave the old values running
                last = again()
                if condition.unchanged(last[3]):
                    return _not_modified(last, condition)
                snapshot, waited = last, True
                break
            waited = True
            snapshot = again()
    if waited:  # only an answer that hands out values is worth a read: a wake may end in another wait
        _still_authenticated(call)
    return snapshot


def _not_modified(snapshot: _Snapshot, condition: envwait.Condition) -> Response:
    response = Response(304, b"", [("ETag", snapshot[3])])
    if condition.wait_seconds:
        response.headers.append(("Preference-Applied", f"wait={condition.wait_seconds}"))
    return response


def _still_authenticated(call: Call) -> None:
    """401 if the caller's token was revoked, or expired, while its request waited. A wait outlives
    its authentication by up to a minute, and revoking a leaked token and then rotating what it
    could read must not hand the new value to a request that token left waiting."""
    row = call.store.lookup(lambda tx: tx.get_token(call.principal.token_id))
    if row is None or expired(row.expires_at, utc_now()):
        raise ApiError(ErrorCode.unauthorized, "a valid bearer token is required", headers=[("WWW-Authenticate", "Bearer")])


def record_requested(call: Call) -> bool:
    """`?record=` of an environment fetch: absent or `true` records the load, `false` does not. A
    HEAD never does: it hands the service nothing, so a monitor's `curl -I` clears no restart flag."""
    return query_flag(call, "record", True) and call.request.method != "HEAD"


def changed_load(bound: list[BoundSecret], versions: dict[tuple[int | None, str], int],
                 now: str) -> tuple[dict[tuple[int | None, str], int], list[int]]:
    """`record_load`'s arguments for loading `versions` of `bound`: only what changed. Under load most
    loads land in the same second with the same versions, and the single writer's time is what
    bounds every audited read."""
    by_key = {(b.app_id, b.name): b for b in bound}
    loaded = {key: v for key, v in versions.items() if by_key[key].loaded_version != v}
    used = [b.secret_id for key, b in by_key.items() if key in versions and b.secret_id is not None and b.last_used_at != now]
    return loaded, used


def record_load(call: Call, site: str, name: str) -> models.Service:
    """Record that the service started with these versions (what `?record=false` handed out): clears
    `restart_required` exactly as a recording fetch does. Only versions the server could have served
    are taken: each names a binding of the service whose secret exists, at most at its current
    version. An older version is taken as it is, so a secret changed between the fetch and this
    record leaves the service flagged for restart, which is the truth."""
    body = call.request.parse(models.ServiceLoad)

    def write(tx: Transaction) -> models.Service:
        site_row = load_site(tx, site)
        service = load_service(tx, site_row, name)
        bound = [b for b in allowed_bindings(tx, site_row, service, tx.bound_secrets(service.id)) if b.secret_id is not None]
        versions = checked_versions(name, bound, body.versions)
        tx.record_load(service.id, *changed_load(bound, versions, call.now), call.now)
        audit.record(tx, call.event("service.load", site=site, target=f"service:{name}",
                                    details={"secrets": sorted({n for _, n in versions})}))
        return service_model(load_service(tx, site_row, name), tx.bindings([service.id]))

    return call.store.write(write)


def checked_versions(service: str, bound: list[BoundSecret], entries: list[models.BindingVersion]) -> dict[tuple[int | None, str], int]:
    """`entries` as `record_load` keys, or 422 naming each entry the server could not have served."""
    by_ref = {(b.app, b.name): b for b in bound}
    versions: dict[tuple[int | None, str], int] = {}
    errors = []
    for index, entry in enumerate(entries):
        path = f"/versions/{index}"
        binding = by_ref.get((entry.app, entry.name))
        if binding is None:
            errors.append({"path": path, "message": f"service {service!r} has no binding to this secret, or its secret does not exist"})
            continue
        assert binding.version is not None  # `bound` holds only bindings whose secret exists
        key = (binding.app_id, binding.name)
        if key in versions:
            errors.append({"path": path, "message": "this secret is listed twice"})
        elif entry.version > binding.version:
            errors.append({"path": path + "/version", "message": f"version {entry.version} was never served; the current one is {binding.version}"})
        versions[key] = entry.version
    if errors:
        raise validation_error(errors)
    return versions


def allowed_bindings(tx: Transaction, site: SiteRow, service: ServiceRow, bound: list[BoundSecret]) -> list[BoundSecret]:
    """`permitted_bindings` of a service whose app has still to be read."""
    app = tx.get_app(site.id, service.app) if service.app else None
    return permitted_bindings(bound, app is None or app.site_secrets)


def permitted_bindings(bound: list[BoundSecret], site_secrets: bool) -> list[BoundSecret]:
    """The bindings an environment may carry: an app that does not allow site-level secrets
    (`site_secrets` False) never receives them. Such a binding (left from before `site_secrets`
    could not be switched off under it) stays in the answer as missing, so `sitesecrets run`
    refuses to start without it."""
    if site_secrets:
        return bound
    return [b if b.app is not None else withheld(b) for b in bound]


def withheld(binding: BoundSecret) -> BoundSecret:
    """The binding as if its secret did not exist: no value, listed in `missing`."""
    return BoundSecret(binding.app_id, binding.app, binding.name, None, None, None, binding.loaded_version, None)


def open_bound(call: Call, site: SiteRow | EnvSite, bound: list[BoundSecret]) -> tuple[dict[str, str], dict[str, int], list[models.SecretRef]]:
    """(env, versions, missing) of a service's bindings; an app-level value overrides a site-level one."""
    env: dict[str, str] = {}
    versions: dict[str, int] = {}
    missing = []
    open_value = call.state.keyring.opener(site)
    for b in sorted(bound, key=lambda b: b.app is not None):  # site-level first, so app-level wins
        if b.secret_id is None:
            missing.append(models.SecretRef(name=b.name, app=b.app))
            continue
        try:
            env[b.name] = open_value(b.app, b.name, b.version, b.ciphertext)
        except IntegrityError:
            raise IntegrityError({"secret": b.name, "app": b.app}) from None
        versions[b.name] = b.version
    return env, versions, missing
