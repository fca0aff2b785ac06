"""The client's view of a site names a secret one way: `secret_id`, the same for a secret, a
binding and a loaded version, and back to the binding the API takes."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from shared.models import LoadedVersion, Secret, SecretRef
from tui.sitedata import id_of, ref_of, secret_id

NOW = datetime(2024, 1, 1, tzinfo=timezone.utc)


def a_secret(app: str | None, name: str) -> Secret:
    return Secret(name=name, app=app, type=None, description="", version=1, created_at=NOW, updated_at=NOW,
                  created_by="a", updated_by="a", used_by=[], last_used_at=None)


def test_a_secret_its_binding_and_its_loaded_version_share_one_identity():
    for app in (None, "web"):
        ids = {id_of(a_secret(app, "DB")), id_of(SecretRef(name="DB", app=app)), id_of(LoadedVersion(name="DB", app=app, version=1))}
        assert ids == {secret_id(app, "DB")}


def test_the_same_name_in_two_scopes_has_two_identities():
    assert secret_id(None, "DB") != secret_id("web", "DB")


def test_an_identity_turns_back_into_the_binding_the_api_takes():
    assert ref_of(secret_id("web", "DB")).model_dump(exclude_unset=True) == {"name": "DB", "app": "web"}
    assert ref_of(secret_id(None, "DB")).model_dump(exclude_unset=True) == {"name": "DB"}


def test_the_data_layer_loads_without_textual():
    code = "import sys, tui.sitedata; print(any(m.split('.')[0] == 'textual' for m in sys.modules))"
    repo = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True).stdout.strip() == "False"
