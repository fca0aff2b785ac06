"""Helpers of the command-line tests: a running server with an admin client (`Live`), and the
small known environment every child process starts from (`base_env`)."""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from server.embedded import EmbeddedServer

REPO = Path(__file__).resolve().parents[2]
_site_numbers = itertools.count(1)


def base_env(**extra: str) -> dict[str, str]:
    """A small, known environment for child processes (no developer SITESECRETS_* leaks in)."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "HOME": os.environ.get("HOME", "/tmp")}
    env.update(extra)
    return env


@dataclass
class Live:
    """One running server and an admin client of it."""

    server: EmbeddedServer
    admin: httpx.Client

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def admin_token(self) -> str:
        return self.server.admin_token

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def ok(self, method: str, path: str, expected: int = 200, **kwargs: Any) -> Any:
        response = self.admin.request(method, path, **kwargs)
        assert response.status_code == expected, response.text
        return response.json() if response.content else None

    def new_site(self, prefix: str = "t", **limits: int) -> str:
        name = f"{prefix}-{next(_site_numbers)}"
        self.ok("POST", "/v1/sites", 201, json={"name": name})
        if limits:
            self.ok("PATCH", f"/v1/sites/{name}", json={"limits": limits})
        return name

    def new_app(self, site: str, app: str, site_secrets: bool = True) -> None:
        self.ok("POST", f"/v1/sites/{site}/apps", 201, json={"name": app, "site_secrets": site_secrets})

    def put_secret(self, site: str, name: str, value: str, app: str | None = None) -> dict:
        scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
        return self.ok("POST", f"{scope}/secrets", 201, json={"name": name, "value": value})

    def secret(self, site: str, name: str, app: str | None = None) -> httpx.Response:
        scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
        return self.admin.get(f"{scope}/secrets/{name}")

    def reveal(self, site: str, name: str, app: str | None = None) -> str:
        scope = f"/v1/sites/{site}" + (f"/apps/{app}" if app else "")
        return self.ok("POST", f"{scope}/secrets/{name}/reveal")["value"]

    def new_service(self, site: str, name: str, app: str | None, refs: list[dict]) -> dict:
        return self.ok("POST", f"/v1/sites/{site}/services", 201, json={"name": name, "app": app, "secrets": refs})

    def service(self, site: str, name: str) -> dict:
        return self.ok("GET", f"/v1/sites/{site}/services/{name}")

    def mint(self, role: str, site: str | None = None, service: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"{role}-{site or 'all'}-{service or ''}", "role": role}
        if site:
            body["site"] = site
        if service:
            body["service"] = service
        return self.ok("POST", "/v1/tokens", 201, json=body)["token"]

    def audit(self, site: str, **filters: str) -> list[dict]:
        return self.ok("GET", f"/v1/sites/{site}/audit", params={"limit": 200, **filters})["items"]
