"""The routing table of docs/API.md: every path, what it needs, what it takes and what it answers
(including the errors its handler refuses with beyond those every route of its kind may)."""

from __future__ import annotations

from shared import models

from ..auth import Permission as P
from ..routing import SCOPES, Route
from . import meta, secrets, services, sites, tokens, trash, types, versions

SITE = "/v1/sites/{site}"

ROUTES: list[Route] = [
    Route("GET", "/v1/health", meta.health, P.public, "health", response=models.Health, summary="Liveness and version", operation="getHealth"),
    Route("GET", "/v1/openapi.json", meta.openapi, P.public, "openapi", summary="This OpenAPI document", operation="getOpenapiDocument"),
    Route("GET", "/v1/whoami", tokens.whoami, P.any, "token.whoami", response=models.WhoAmI, summary="The calling token", operation="whoami"),
    Route("GET", "/v1/sites", sites.list_sites, P.read, "site.list", response=models.SiteList, summary="List sites"),
    Route("POST", "/v1/sites", sites.create_site, P.operator, "site.create", models.SiteCreate, models.Site, 201, "Create a site", errors=(409,)),
    Route("GET", SITE, sites.get_site, P.read, "site.get", response=models.Site, summary="Read a site"),
    Route("PATCH", SITE, sites.update_site, P.operator, "site.update", models.SiteUpdate, models.Site, summary="Change a site's limits"),
    Route("DELETE", SITE, sites.delete_site, P.operator, "site.delete", status=204,
          summary="Delete an empty site (?cascade=true: with everything in it)", errors=(409,), query=("cascade",)),
    Route("GET", f"{SITE}/apps", sites.list_apps, P.read, "app.list", response=models.AppList, summary="List apps"),
    Route("POST", f"{SITE}/apps", sites.create_app, P.admin, "app.create", models.AppCreate, models.App, 201, "Create an app", errors=(409,)),
    Route("GET", f"{SITE}/apps/{{app}}", sites.get_app, P.read, "app.get", response=models.App, summary="Read an app"),
    Route("PATCH", f"{SITE}/apps/{{app}}", sites.update_app, P.admin, "app.update", models.AppUpdate, models.App, summary="Change an app", errors=(409,)),
    Route("DELETE", f"{SITE}/apps/{{app}}", sites.delete_app, P.admin, "app.delete", status=204, summary="Delete an empty app", errors=(409,)),
]

for scope in SCOPES:
    ROUTES += [
        Route("GET", f"{scope}/secrets", secrets.list_secrets, P.read, "secret.list", response=models.SecretList,
              summary="List secrets (at site scope, ?scope=all lists every scope; ?due_within_days=N those due for rotation)",
              query=("scope", "due_within_days") if scope == SITE else ("due_within_days",)),
        Route("POST", f"{scope}/secrets", secrets.create_secret, P.write, "secret.create", models.SecretCreate, models.Secret, 201, "Create a secret", errors=(409,)),
        Route("GET", f"{scope}/secrets/{{name}}", secrets.get_secret, P.read, "secret.get", response=models.Secret, summary="Read a secret's metadata"),
        Route("PATCH", f"{scope}/secrets/{{name}}", secrets.update_secret, P.write, "secret.update", models.SecretUpdate, models.Secret, summary="Update a secret", errors=(409,)),
        Route("DELETE", f"{scope}/secrets/{{name}}", trash.delete_secret, P.write, "secret.delete", status=204,
              summary="Move a secret no service uses to the trash (trash_days 0: delete it at once)", errors=(409,)),
        Route("POST", f"{scope}/secrets/{{name}}/reveal", secrets.reveal_secret, P.reveal, "secret.reveal", models.RevealRequest,
              models.RevealedValue, summary="Reveal a value, or a kept older version's (audited)", body_optional=True),
        Route("GET", f"{scope}/secrets/{{name}}/versions", versions.list_versions, P.read, "secret.versions",
              response=models.SecretVersionList, summary="A secret's kept versions, newest first",
              operation="listSecretVersions"),
        Route("POST", f"{scope}/secrets/{{name}}/rollback", versions.rollback_secret, P.write, "secret.rollback", models.Rollback,
              models.Secret, summary="Make a kept version's value the current one (a new version)", errors=(409,)),
        Route("POST", f"{scope}/trash/{{name}}/restore", trash.restore_secret, P.write, "secret.restore", response=models.Secret,
              summary="Bring a secret back from the trash", errors=(409,)),
        Route("DELETE", f"{scope}/trash/{{name}}", trash.purge_secret, P.admin, "secret.purge", status=204,
              summary="Purge a secret from the trash now (its values wiped)"),
    ]

ROUTES += [
    Route("GET", f"{SITE}/trash", trash.list_trash, P.read, "trash.list", response=models.TrashList,
          summary="The site's trash (every scope)", operation="listTrash"),
    Route("GET", f"{SITE}/secret-types", types.list_types, P.read, "type.list", response=models.SecretTypeList, summary="List secret types"),
    Route("POST", f"{SITE}/secret-types", types.create_type, P.write, "type.create", models.SecretTypeCreate, models.SecretType, 201, "Create a secret type", errors=(409,)),
    Route("GET", f"{SITE}/secret-types/{{key}}", types.get_type, P.read, "type.get", response=models.SecretType, summary="Read a secret type"),
    Route("PATCH", f"{SITE}/secret-types/{{key}}", types.update_type, P.write, "type.update", models.SecretTypeUpdate, models.SecretType, summary="Change a secret type", errors=(409,)),
    Route("DELETE", f"{SITE}/secret-types/{{key}}", types.delete_type, P.write, "type.delete", status=204, summary="Delete an unused secret type", errors=(409,)),
    Route("GET", f"{SITE}/services", services.list_services, P.read, "service.list", response=models.ServiceList, summary="List services"),
    Route("POST", f"{SITE}/services", services.create_service, P.write, "service.create", models.ServiceCreate, models.Service, 201, "Create a service", errors=(409,)),
    Route("GET", f"{SITE}/services/{{name}}", services.get_service, P.read, "service.get", response=models.Service, summary="Read a service"),
    Route("PATCH", f"{SITE}/services/{{name}}", services.update_service, P.write, "service.update", models.ServiceUpdate, models.Service, summary="Replace a service's bindings"),
    Route("DELETE", f"{SITE}/services/{{name}}", services.delete_service, P.write, "service.delete", status=204, summary="Delete a service"),
    Route("GET", f"{SITE}/services/{{name}}/env", services.service_env, P.env, "service.env", response=models.ServiceEnv,
          summary="A service's environment (audited); records the load unless ?record=false", query=("record",),
          operation="getServiceEnv"),
    Route("POST", f"{SITE}/services/{{name}}/loads", services.record_load, P.env, "service.load", models.ServiceLoad, models.Service,
          summary="Record that the service started with these versions (audited)",
          operation="recordServiceLoad"),
    Route("GET", f"{SITE}/audit", meta.site_audit, P.admin, "audit.read", response=models.AuditPage, summary="A site's audit log, newest first",
          query=("limit", "before", "action", "target", "actor"), operation="listSiteAudit"),
    Route("GET", f"{SITE}/audit/verify", meta.verify_site_audit, P.admin, "audit.read", response=models.AuditVerification,
          summary="Walk the site's audit hash chain; the first broken link, if any", operation="verifySiteAudit"),
    Route("GET", "/v1/audit", meta.all_audit, P.operator, "audit.read", response=models.AuditPage, summary="The whole audit log (unbound admins)",
          query=("limit", "before", "action", "target", "actor"), operation="listAudit"),
    Route("GET", "/v1/tokens", tokens.list_tokens, P.admin, "token.list", response=models.TokenList,
          summary="List tokens (never the token itself; ?site=S those bound to S)", query=("site",), errors=(404,)),
    Route("POST", "/v1/tokens", tokens.create_token, P.admin, "token.create", models.TokenCreate, models.CreatedToken, 201, "Create a token", errors=(404, 409)),
    Route("DELETE", "/v1/tokens/{id}", tokens.delete_token, P.admin, "token.delete", status=204, summary="Revoke a token"),
]
