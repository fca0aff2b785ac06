"""Make the README's screenshots of the TUI: one SVG per tab (and the new-secret form), saved by
the App's own `save_screenshot` at 80x24 from a demo site on an embedded server.

    .venv/bin/python scripts/screenshots.py [OUTPUT_DIR]   # default docs/screenshots
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from server.embedded import EmbeddedServer  # noqa: E402
from shared.models import (AppCreate, Role, SecretCreate, SecretRef, SecretTypeCreate, SecretUpdate,  # noqa: E402
                           ServiceCreate, SiteCreate, TokenCreate)
from tui.ui.app import SiteSecretsApp  # noqa: E402
from tui.client import SiteSecretsClient  # noqa: E402
from tui.settings import Settings  # noqa: E402
from tui.templates import TEMPLATES  # noqa: E402

SITE = "default"


def seed(client: SiteSecretsClient) -> None:
    """A small, believable site: two apps, typed and plain secrets, a service using some."""
    for app in ("web", "worker"):
        client.create_app(SITE, AppCreate(name=app))
    client.create_type(SITE, SecretTypeCreate(key="database", name="Database credentials",
                                              schema=TEMPLATES["Database credentials"],
                                              description="Host, user and password of one database."))
    client.create_type(SITE, SecretTypeCreate(key="smtp", name="SMTP server", schema=TEMPLATES["SMTP server"]))
    database = {"host": "db.internal", "port": 5432, "user": "shop", "password": "example", "database": "shop"}
    client.create_secret(SITE, None, SecretCreate(name="DATABASE", type="database", value=json.dumps(database),
                                                  description="Primary PostgreSQL"))
    client.create_secret(SITE, None, SecretCreate(name="STRIPE_API_KEY", value="sk_test_example",
                                                  description="Payments, test mode"))
    client.create_secret(SITE, "web", SecretCreate(name="SESSION_SECRET", value="example"))
    client.create_secret(SITE, "worker", SecretCreate(name="QUEUE_URL", value="redis://queue:6379/0"))
    client.create_service(SITE, ServiceCreate(name="web", app="web", secrets=[
        SecretRef(name="DATABASE"), SecretRef(name="SESSION_SECRET", app="web")]))
    client.create_service(SITE, ServiceCreate(name="queue-worker", app="worker",
                                              secrets=[SecretRef(name="QUEUE_URL", app="worker")]))
    for service in ("web", "queue-worker"):  # both load their secrets (a recorded fetch); then one of web's changes
        client.request("GET", f"/v1/sites/{SITE}/services/{service}/env", None)
    client.update_secret(SITE, "web", "SESSION_SECRET", SecretUpdate(value="rotated"))
    client.reveal(SITE, None, "STRIPE_API_KEY")
    # the operator's view: a second customer's site and its tokens, and a token for the web service
    client.create_site(SiteCreate(name="customer-42"))
    client.create_secret("customer-42", None, SecretCreate(name="API_KEY", value="example"))
    client.create_token(TokenCreate(name="customer-42-admin", role=Role.admin, site="customer-42"))
    client.create_token(TokenCreate(name="web-runner", role=Role.service, site=SITE, service="web"))
    client.create_token(TokenCreate(name="support-desk", role=Role.viewer, site=SITE, expires_in_days=90))


async def shoot(app: SiteSecretsApp, out: Path) -> None:
    async with app.run_test(size=(80, 24)) as pilot:
        async def settle() -> None:
            await app.workers.wait_for_complete()
            await pilot.pause(0.3)

        await settle()
        app.save_screenshot(str(out / "secrets.svg"))
        for keys, name in ((("2",), "types"), (("3",), "audit"), (("4",), "services"), (("5",), "sites"),
                           (("6",), "tokens"), (("1", "n"), "secret-form")):
            await pilot.press(*keys)
            await settle()
            app.save_screenshot(str(out / f"{name}.svg"))


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as data, EmbeddedServer.start(Path(data)) as server:
        client = SiteSecretsClient(server.url, server.admin_token)
        seed(client)
        app = SiteSecretsApp(client, Settings(url=server.url, site=SITE), client.whoami())
        asyncio.run(shoot(app, out))
        client.close()
    print(f"screenshots written to {out}")


if __name__ == "__main__":
    main()
