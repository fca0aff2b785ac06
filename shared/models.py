"""Pydantic models for every body, object and error of the v1 API (docs/API.md, "Objects" and "Paths").

Three families, kept apart on purpose (see STYLE.md):
- request bodies (`*Create`, `*Update`): strict, unknown fields refused;
- response objects (`Site`, `Secret`, ...): what the server answers; no object but `RevealedValue`
  and `ServiceEnv` ever carries a secret value;
- `ErrorBody`: the one error shape.
"""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer, StringConstraints, model_validator

from .limits import (
    DEFAULT_LIMITS,
    DESCRIPTION_PATTERN,
    LABEL_PATTERN,
    MAX_DESCRIPTION_CHARS,
    MAX_NAME_LENGTH_CEILING,
    MAX_AUDIT_RETENTION_DAYS,
    MAX_COUNT_CEILING,
    MAX_TRASH_DAYS,
    MAX_VERSIONS_CEILING,
    SECRET_NAME_PATTERN,
    SLUG_PATTERN,
    TYPE_KEY_PATTERN,
    VALUE_PATTERN,
    description_problem,
    label_problem,
    value_problem,
)


def _check_description(text: str) -> str:
    problem = description_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _check_label(text: str) -> str:
    problem = label_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _check_value(value: str) -> str:
    problem = value_problem(value)
    if problem:
        raise ValueError(problem)
    return value


def _whole_number(value: Any) -> Any:
    """JSON has one number type: `3.0` is the integer 3 (as JSON Schema's `integer` says), `3.5` is not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _utc_z(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
SecretName = Annotated[str, StringConstraints(pattern=SECRET_NAME_PATTERN, min_length=1)]
"""A secret name as stored. The length limit is per site (`Limits.max_name_length`), so the server
checks it; a request naming a new one also keeps within the ceiling every site keeps within
(`NewSecretName`, `NewSecretRef`). Answers use this rule alone: names a site stored under an older,
higher ceiling must still be listed."""
NewSecretName = Annotated[str, StringConstraints(pattern=SECRET_NAME_PATTERN, min_length=1, max_length=MAX_NAME_LENGTH_CEILING)]
TypeKey = Annotated[str, StringConstraints(pattern=TYPE_KEY_PATTERN)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS, json_schema_extra={"pattern": DESCRIPTION_PATTERN}),
                        AfterValidator(_check_description)]
Label = Annotated[str, Field(min_length=1, max_length=128, json_schema_extra={"pattern": LABEL_PATTERN}),
                  AfterValidator(_check_label)]
"""A token name or a type's display name: shown in lists, so no control or bidi characters."""
SecretValue = Annotated[str, Field(json_schema_extra={"pattern": VALUE_PATTERN}), AfterValidator(_check_value)]
WholeNumber = BeforeValidator(_whole_number)
"""Put last in a request's `Annotated[int, Field(...), WholeNumber]` (after the bounds, so the JSON
Schema keeps `minimum`/`maximum`): strict (no strings, no booleans), but `3.0` counts as 3."""
Timestamp = Annotated[datetime, PlainSerializer(_utc_z, return_type=str, when_used="json")]
"""RFC 3339 in UTC with a `Z` suffix."""


class Role(StrEnum):
    viewer = "viewer"
    editor = "editor"
    admin = "admin"
    service = "service"


class ErrorCode(StrEnum):
    """Every machine code an error may carry, with its HTTP status in `ERROR_STATUS`."""

    invalid_json = "invalid_json"
    validation_error = "validation_error"
    unauthorized = "unauthorized"
    forbidden = "forbidden"
    not_found = "not_found"
    method_not_allowed = "method_not_allowed"
    already_exists = "already_exists"
    version_conflict = "version_conflict"
    limit_exceeded = "limit_exceeded"
    site_not_empty = "site_not_empty"
    app_not_empty = "app_not_empty"
    secret_in_use = "secret_in_use"
    type_conflict = "type_conflict"
    type_in_use = "type_in_use"
    length_required = "length_required"
    payload_too_large = "payload_too_large"
    value_too_large = "value_too_large"
    unsupported_media_type = "unsupported_media_type"
    rate_limited = "rate_limited"
    internal_error = "internal_error"
    integrity_error = "integrity_error"
    audit_unavailable = "audit_unavailable"
    master_key_changed = "master_key_changed"
    database_unavailable = "database_unavailable"
    insufficient_storage = "insufficient_storage"
    # the HTTP layer's own refusals, before a request reaches the application
    bad_request = "bad_request"
    request_timeout = "request_timeout"
    headers_too_large = "headers_too_large"
    not_implemented = "not_implemented"
    server_busy = "server_busy"
    http_version_not_supported = "http_version_not_supported"


ERROR_STATUS: dict[ErrorCode, int] = {
    ErrorCode.invalid_json: 400,
    ErrorCode.validation_error: 422,
    ErrorCode.unauthorized: 401,
    ErrorCode.forbidden: 403,
    ErrorCode.not_found: 404,
    ErrorCode.method_not_allowed: 405,
    ErrorCode.already_exists: 409,
    ErrorCode.version_conflict: 409,
    ErrorCode.limit_exceeded: 409,
    ErrorCode.site_not_empty: 409,
    ErrorCode.app_not_empty: 409,
    ErrorCode.secret_in_use: 409,
    ErrorCode.type_conflict: 409,
    ErrorCode.type_in_use: 409,
    ErrorCode.length_required: 411,
    ErrorCode.payload_too_large: 413,
    ErrorCode.value_too_large: 413,
    ErrorCode.unsupported_media_type: 415,
    ErrorCode.rate_limited: 429,
    ErrorCode.internal_error: 500,
    ErrorCode.integrity_error: 500,
    ErrorCode.audit_unavailable: 503,
    ErrorCode.master_key_changed: 503,
    ErrorCode.database_unavailable: 503,
    ErrorCode.insufficient_storage: 507,
    ErrorCode.bad_request: 400,
    ErrorCode.request_timeout: 408,
    ErrorCode.headers_too_large: 431,
    ErrorCode.not_implemented: 501,
    ErrorCode.server_busy: 503,
    ErrorCode.http_version_not_supported: 505,
}


class _Request(BaseModel):
    """A request body: strict types, and unknown fields are refused so typos don't pass silently."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class _Object(BaseModel):
    """A response object. Clients ignore fields they don't know, so the server may add some."""

    model_config = ConfigDict(extra="ignore", defer_build=True)


# ---------------------------------------------------------------- errors


class FieldError(_Object):
    path: str = Field(description="JSON Pointer to the offending part of the request or value")
    message: str


class ErrorDetail(_Object):
    code: ErrorCode
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorBody(_Object):
    error: ErrorDetail


# ---------------------------------------------------------------- meta


class Health(_Object):
    status: Literal["ok"] = "ok"
    version: str


# ---------------------------------------------------------------- sites and apps


class LimitsModel(_Object):
    max_secrets: int
    max_value_bytes: int
    max_name_length: int
    max_versions: int = Field(default=DEFAULT_LIMITS.max_versions, description="values kept of each secret, the current one included")
    trash_days: int = Field(default=DEFAULT_LIMITS.trash_days, description="days a deleted secret stays in the trash; 0 deletes at once")
    audit_retention_days: int = Field(default=DEFAULT_LIMITS.audit_retention_days, description="days the site's audit events are kept; 0 keeps them forever")
    max_apps: int = Field(default=DEFAULT_LIMITS.max_apps, description="apps the site may hold")
    max_services: int = Field(default=DEFAULT_LIMITS.max_services, description="services the site may hold, site-level and app-level together")
    max_types: int = Field(default=DEFAULT_LIMITS.max_types, description="secret types the site may hold")
    max_tokens: int = Field(default=DEFAULT_LIMITS.max_tokens, description="tokens bound to the site that have not expired")


class LimitsUpdate(_Request):
    max_secrets: Annotated[int, Field(ge=1, le=100_000), WholeNumber] | None = None
    max_value_bytes: Annotated[int, Field(ge=1, le=512 * 1024), WholeNumber] | None = None
    max_name_length: Annotated[int, Field(ge=1, le=MAX_NAME_LENGTH_CEILING), WholeNumber] | None = None
    max_versions: Annotated[int, Field(ge=1, le=MAX_VERSIONS_CEILING), WholeNumber] | None = None
    trash_days: Annotated[int, Field(ge=0, le=MAX_TRASH_DAYS), WholeNumber] | None = None
    audit_retention_days: Annotated[int, Field(ge=0, le=MAX_AUDIT_RETENTION_DAYS), WholeNumber] | None = None
    max_apps: Annotated[int, Field(ge=1, le=MAX_COUNT_CEILING), WholeNumber] | None = None
    max_services: Annotated[int, Field(ge=1, le=MAX_COUNT_CEILING), WholeNumber] | None = None
    max_types: Annotated[int, Field(ge=1, le=MAX_COUNT_CEILING), WholeNumber] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=MAX_COUNT_CEILING), WholeNumber] | None = None


class SiteUsage(_Object):
    """What a site holds now, to set against its limits."""

    secrets: int = Field(description="secrets in every scope (what `max_secrets` counts; the trash not included)")
    value_bytes: int = Field(description="the UTF-8 size of every current value, summed")
    services: int
    tokens: int = Field(description="tokens bound to the site that have not expired (what `max_tokens` counts)")
    apps: int = Field(0, description="apps of the site (what `max_apps` counts)")
    types: int = Field(0, description="secret types of the site (what `max_types` counts)")
    trash: int = Field(0, description="secrets in the site's trash, which count toward no limit")
    trash_value_bytes: int = Field(0, description="the UTF-8 size of the trashed secrets' values, summed")


class Site(_Object):
    name: str
    created_at: Timestamp
    secret_count: int
    limits: LimitsModel
    usage: SiteUsage


class SiteCreate(_Request):
    name: Slug


class SiteUpdate(_Request):
    limits: LimitsUpdate


class App(_Object):
    name: str
    site_secrets: bool
    created_at: Timestamp


class AppCreate(_Request):
    name: Slug
    site_secrets: bool = True


class AppUpdate(_Request):
    site_secrets: bool


# ---------------------------------------------------------------- secrets


class Secret(_Object):
    name: str
    app: str | None
    type: str | None
    description: str
    version: int
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str
    updated_by: str
    used_by: list[str]
    last_used_at: Timestamp | None
    fingerprint: str | None = Field(
        default=None, description="the first 16 hex characters of a keyed HMAC of the value, keyed per site: equal values "
                                  "in one site have equal fingerprints (null only for a value that failed its integrity check)")
    rotate_every_days: int | None = Field(default=None, description="the rotation period in days, or null for none")
    rotation_due_at: Timestamp | None = Field(default=None, description="when the current value was set plus the period")
    rotation_overdue: bool = Field(default=False, description="whether `rotation_due_at` has passed")


RotationDays = Annotated[int, Field(ge=1, le=3650), WholeNumber]
MAX_DUE_WITHIN_DAYS = 3650


class SecretCreate(_Request):
    name: NewSecretName
    value: SecretValue
    type: TypeKey | None = None
    description: Description = ""
    rotate_every_days: RotationDays | None = None


class SecretUpdate(_Request):
    value: SecretValue | None = None
    value_patch: dict[str, Any] | None = Field(
        default=None, description="an RFC 7396 JSON Merge Patch for a typed secret whose value is a JSON object; "
                                  "not with `value`")
    rotate_every_days: RotationDays | None = Field(default=None, description="days; null (sent explicitly) removes the policy")

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"not": {"required": ["value", "value_patch"]}})

    @model_validator(mode="after")
    def _one_way_to_change_the_value(self) -> "SecretUpdate":
        if self.value is not None and self.value_patch is not None:
            raise ValueError("send either value or value_patch, not both")
        return self
    description: Description | None = None
    type: TypeKey | None = Field(default=None, description="a type key; null (sent explicitly) removes the type")
    expected_version: Annotated[int, Field(ge=1), WholeNumber] | None = None


class RevealedValue(_Object):
    value: str
    version: int


class RevealRequest(_Request):
    """The optional body of a reveal: which kept version to reveal (the current one without it)."""

    version: Annotated[int, Field(ge=1), WholeNumber] | None = None


class SecretVersion(_Object):
    version: int
    created_at: Timestamp
    created_by: str
    type: str | None = Field(description="the secret's type key when this value was current")
    current: bool
    fingerprint: str | None


class SecretVersionList(_Object):
    items: list[SecretVersion]


class Rollback(_Request):
    version: Annotated[int, Field(ge=1), WholeNumber]
    expected_version: Annotated[int, Field(ge=1), WholeNumber] | None = None


class TrashedSecret(_Object):
    name: str
    app: str | None
    version: int
    deleted_at: Timestamp
    deleted_by: str
    purge_at: Timestamp


class TrashList(_Object):
    items: list[TrashedSecret]


# ---------------------------------------------------------------- secret types


class SecretType(_Object):
    key: str
    name: str
    schema_: dict[str, Any] = Field(alias="schema")
    description: str
    created_at: Timestamp
    updated_at: Timestamp
    secret_count: int

    model_config = ConfigDict(extra="ignore", populate_by_name=True, serialize_by_alias=True)


class SecretTypeCreate(_Request):
    key: TypeKey
    name: Label
    schema_: dict[str, Any] = Field(alias="schema")
    description: Description = ""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, serialize_by_alias=True)


class SecretTypeUpdate(_Request):
    name: Label | None = None
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    description: Description | None = None

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, serialize_by_alias=True)


# ---------------------------------------------------------------- services


class SecretRef(_Object):
    name: SecretName
    app: Slug | None = None

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


def _ref_within_ceiling(ref: SecretRef) -> SecretRef:
    if len(ref.name) > MAX_NAME_LENGTH_CEILING:
        raise ValueError(f"a secret name is at most {MAX_NAME_LENGTH_CEILING} characters (it has {len(ref.name)})")
    return ref


NewSecretRef = Annotated[SecretRef, AfterValidator(_ref_within_ceiling)]
"""A binding in a request: no longer a name than any secret may have, so that both databases index it."""


class LoadedVersion(_Object):
    name: str
    app: str | None = None
    version: int | None = Field(description="the version the service last loaded, or null if it never loaded this one")


class Service(_Object):
    name: str
    app: str | None
    secrets: list[SecretRef]
    loaded_at: Timestamp | None
    restart_required: bool
    stale: list[SecretRef]
    loaded_versions: list[LoadedVersion] = Field(
        default_factory=list, description="for each binding, the version of its secret the service last loaded")


class ServiceCreate(_Request):
    name: Slug
    app: Slug | None = None
    secrets: list[NewSecretRef] = Field(default_factory=list, max_length=1000)


class ServiceUpdate(_Request):
    secrets: list[NewSecretRef] = Field(max_length=1000)


class ServiceEnv(_Object):
    env: dict[str, str]
    versions: dict[str, int]
    missing: list[SecretRef] = Field(default_factory=list, description="bindings whose secret does not exist yet")
    loaded_versions: list[LoadedVersion] = Field(
        default_factory=list, description="the version of each binding this answer holds (site-level ones an app-level "
                                          "value overrides included), as `POST .../loads` takes them")


class BindingVersion(_Request):
    name: SecretName
    app: Slug | None = None
    version: Annotated[int, Field(ge=1), WholeNumber]


class ServiceLoad(_Request):
    """What a service started with: the `loaded_versions` of the environment answer it was given."""

    versions: list[BindingVersion] = Field(max_length=1000)


# ---------------------------------------------------------------- tokens and audit


class Token(_Object):
    id: str
    name: str
    role: Role
    site: str | None
    service: str | None
    created_at: Timestamp
    expires_at: Timestamp | None
    last_used_at: Timestamp | None


class TokenCreate(_Request):
    name: Label
    role: Role
    site: Slug | None = None
    service: Slug | None = None
    expires_in_days: Annotated[int, Field(ge=1, le=3650), WholeNumber] | None = None

    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={
        # a service token names its site and service; no other token names a service
        "if": {"properties": {"role": {"const": "service"}}, "required": ["role"]},
        "then": {"required": ["site", "service"], "properties": {"site": {"type": "string"}, "service": {"type": "string"}}},
        "else": {"properties": {"service": {"type": "null"}}},
    })


class CreatedToken(Token):
    token: str = Field(description="the bearer token, shown this once; only its hash is stored")


class WhoAmI(Token):
    pass


class AuditEvent(_Object):
    id: int
    at: Timestamp
    actor: str | None
    actor_id: str | None
    action: str
    site: str | None
    target: str | None
    outcome: Literal["ok", "denied", "error"]
    source: str | None
    details: dict[str, Any]


# ---------------------------------------------------------------- lists


class SiteList(_Object):
    items: list[Site]


class AppList(_Object):
    items: list[App]


class SecretList(_Object):
    items: list[Secret]


class SecretTypeList(_Object):
    items: list[SecretType]


class ServiceList(_Object):
    items: list[Service]


class TokenList(_Object):
    items: list[Token]


class AuditVerification(_Object):
    """What walking a site's audit hash chain found (`GET /v1/sites/{site}/audit/verify`)."""

    ok: bool
    events: int = Field(description="events whose link was checked")
    unsealed: int = Field(default=0, description="events from before the chain (no hash), not checked")
    unkeyed: int = Field(default=0, description="of `events`, those linked by plain SHA-256 before the chain was keyed: "
                                                "checked, and pinned by the chain's seal, but written when anyone able to "
                                                "write the database could have rewritten them")
    anchor_id: int = Field(default=0, description="the last event retention removed; the walk starts after it")
    broken_id: int | None = Field(default=None, description="the first event whose link is broken")
    reason: str = ""


class AuditPage(_Object):
    items: list[AuditEvent]
    next: str | None
