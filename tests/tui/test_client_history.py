"""The client's round-2 calls against the real server: versions, an older value, rollback, the
trash and the rotation filter."""

from __future__ import annotations

from shared.models import Rollback, SecretCreate, SecretUpdate


def test_versions_reveal_of_an_older_one_and_rollback(admin, site):
    admin.create_secret(site, None, SecretCreate(name="DB_PASSWORD", value="first"))
    admin.update_secret(site, None, "DB_PASSWORD", SecretUpdate(value="second"))
    versions = admin.list_versions(site, None, "DB_PASSWORD")
    assert [(v.version, v.current) for v in versions] == [(2, True), (1, False)]
    assert admin.reveal(site, None, "DB_PASSWORD", version=1).value == "first"
    rolled = admin.rollback(site, None, "DB_PASSWORD", Rollback(version=1))
    assert rolled.version == 3 and admin.reveal(site, None, "DB_PASSWORD").value == "first"
    assert admin.list_versions(site, None, "DB_PASSWORD")[0].fingerprint == versions[1].fingerprint


def test_trash_lists_restores_and_purges(admin, site):
    for name in ("KEEP", "GONE"):
        admin.create_secret(site, None, SecretCreate(name=name, value="v"))
        admin.delete_secret(site, None, name)
    assert {item.name for item in admin.list_trash(site)} == {"KEEP", "GONE"}
    assert admin.restore_secret(site, None, "KEEP").name == "KEEP"
    admin.purge_secret(site, None, "GONE")
    assert admin.list_trash(site) == []
    assert [secret.name for secret in admin.list_scope(site, None)] == ["KEEP"]


def test_due_filter_lists_only_secrets_falling_due(admin, site):
    admin.create_secret(site, None, SecretCreate(name="ROTATED", value="v", rotate_every_days=7))
    admin.create_secret(site, None, SecretCreate(name="FOREVER", value="v"))
    assert [s.name for s in admin.list_scope(site, None, due_within_days=30)] == ["ROTATED"]
    assert admin.list_scope(site, None, due_within_days=0) == []
