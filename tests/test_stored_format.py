"""Known answers for what the database holds: sealed values, wrapped keys, the key check values,
token hashes and token row MACs, committed in `vectors/stored_format.json` from a fixed master
key (new ones beside the old, never regenerated). Every release must still open them, so a change
to the layout (the nonce's length, the version byte), to a label or to the associated data fails
here instead of stranding every stored secret.
They also show what the associated data refuses: a ciphertext moved to another app, site,
name or version, and a wrapped data key moved to another site."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server import crypto
from server.auth import TokenHasher
from server.keyring import Keyring
from server.store.audit_tx import AuditKey, chain_mac, chain_seal
from server.store.base import SiteRow, TokenRow

VECTORS = json.loads((Path(__file__).parent / "vectors" / "stored_format.json").read_text(encoding="utf-8"))
MASTER = bytes.fromhex(VECTORS["master_key"])
SITES = VECTORS["sites"]
VALUES = VECTORS["values"]


def data_key(site: str) -> bytes:
    return bytes.fromhex(SITES[site]["data_key"])


def wrapped(site: str) -> bytes:
    return bytes.fromhex(SITES[site]["wrapped_data_key"])


def vector(site: str, app: str | None, name: str) -> dict:
    return next(v for v in VALUES if (v["site"], v["app"], v["name"]) == (site, app, name))


def sealed(v: dict) -> bytes:
    return bytes.fromhex(v["sealed"])


def site_row(site: str, wrapped_key: bytes | None = None) -> SiteRow:
    return SiteRow(1, site, "2026-01-01T00:00:00Z", wrapped_key or wrapped(site), None, None, None)


# ---------------------------------------------------------------- the master key's check value


def test_the_key_check_value_is_the_committed_one():
    assert crypto.key_check_value(MASTER) == VECTORS["key_check_value_v4"]
    assert Keyring(MASTER).check_value == VECTORS["key_check_value_v4"]


def test_the_committed_check_values_of_older_databases_are_known_by_their_version():
    # v1: plain SHA-256 token hashes; v2 (the file's first `key_check_value`): token rows without
    # MACs; v3: audit links of plain SHA-256
    assert crypto.legacy_key_check_value(MASTER, 1) == VECTORS["legacy_key_check_value"]
    assert crypto.legacy_key_check_value(MASTER, 2) == VECTORS["key_check_value"]
    assert crypto.legacy_key_check_value(MASTER, 3) == VECTORS["key_check_value_v3"]
    assert crypto.legacy_version(MASTER, VECTORS["legacy_key_check_value"]) == 1
    assert crypto.legacy_version(MASTER, VECTORS["key_check_value"]) == 2
    assert crypto.legacy_version(MASTER, VECTORS["key_check_value_v3"]) == 3
    assert crypto.legacy_version(MASTER, VECTORS["key_check_value_v4"]) is None


def test_every_committed_check_value_matches_the_master_key_and_no_other():
    other = bytes(32)
    for check in (VECTORS["key_check_value_v4"], VECTORS["key_check_value_v3"], VECTORS["key_check_value"],
                  VECTORS["legacy_key_check_value"]):
        assert crypto.key_matches(MASTER, check)
        assert not crypto.key_matches(other, check)


def test_a_changed_key_check_label_changes_the_check_value(monkeypatch):
    monkeypatch.setattr(crypto, "_KEY_CHECK_LABEL", b"sitesecrets key check v5")
    assert crypto.key_check_value(MASTER) != VECTORS["key_check_value_v4"]


# ---------------------------------------------------------------- the audit chain's key, links and seal


def test_the_audit_key_links_and_seal_are_the_committed_ones():
    # the audit key comes from the token key alone, which a rotation of the master key never
    # changes: a link written today verifies after any number of rotations
    raw = crypto.audit_chain_key(bytes.fromhex(VECTORS["token_key"]))
    assert raw.hex() == VECTORS["audit_chain_key"]
    key = AuditKey(raw)
    link = VECTORS["audit_link"]
    assert chain_mac(key, bytes.fromhex(link["previous"]), tuple(link["sealed"])).hex() == link["link"]
    seal = VECTORS["audit_chain_seal"]
    assert chain_seal(key, seal["chain"], seal["keyed_after"], bytes.fromhex(seal["keyed_hash"]), seal["anchor_id"],
                      seal["anchor_hash"]).hex() == seal["seal"]


# ---------------------------------------------------------------- wrapped keys and token hashes


@pytest.mark.parametrize("site", sorted(SITES))
def test_each_committed_data_key_unwraps(site):
    assert crypto.unwrap_data_key(MASTER, site, wrapped(site)) == data_key(site)


def test_a_wrapped_data_key_moved_to_another_site_fails():
    with pytest.raises(crypto.IntegrityError):
        crypto.unwrap_data_key(MASTER, "globex", wrapped("acme"))
    with pytest.raises(crypto.IntegrityError):
        Keyring(MASTER).data_key(site_row("globex", wrapped("acme")))


def test_the_committed_token_key_unwraps_and_hashes_the_token_as_committed():
    token_key = crypto.unwrap_token_key(MASTER, bytes.fromhex(VECTORS["wrapped_token_key"]))
    assert token_key == bytes.fromhex(VECTORS["token_key"])
    assert TokenHasher(token_key).hash(VECTORS["token"]) == VECTORS["token_hash"]


def test_the_committed_token_row_has_the_committed_mac():
    hasher = TokenHasher(bytes.fromhex(VECTORS["token_key"]))
    row = TokenRow(**VECTORS["token_row"])
    assert hasher.row_mac(row) == VECTORS["token_row_mac"]
    assert hasher.intact(TokenRow(**VECTORS["token_row"], mac=VECTORS["token_row_mac"]))


def test_the_wrapped_token_key_is_no_site_data_key():
    with pytest.raises(crypto.IntegrityError):
        crypto.unwrap_data_key(MASTER, "acme", bytes.fromhex(VECTORS["wrapped_token_key"]))


# ---------------------------------------------------------------- sealed values


@pytest.mark.parametrize("v", VALUES, ids=lambda v: f"{v['site']}-{v['app']}-{v['name']}-{v['version']}")
def test_each_committed_value_opens_through_the_keyring(v):
    keyring = Keyring(MASTER)
    assert keyring.open_value(site_row(v["site"]), v["app"], v["name"], v["version"], sealed(v)) == v["value"]


@pytest.mark.parametrize("v", VALUES, ids=lambda v: f"{v['site']}-{v['app']}-{v['name']}-{v['version']}")
def test_the_associated_data_is_the_committed_bytes(v):
    assert crypto.value_aad(v["site"], v["app"], v["name"], v["version"]).hex() == v["aad"]


@pytest.mark.parametrize("v", VALUES, ids=lambda v: f"{v['site']}-{v['app']}-{v['name']}-{v['version']}")
def test_a_sealed_blob_is_version_byte_12_byte_nonce_ciphertext_and_tag(v):
    blob = sealed(v)
    assert blob[:1] == b"\x01" and len(blob) == 1 + 12 + len(v["value"].encode()) + 16
    aad = bytes.fromhex(v["aad"])
    assert AESGCM(data_key(v["site"])).decrypt(blob[1:13], blob[13:], aad) == v["value"].encode()


def test_a_13_byte_nonce_would_open_no_committed_value(monkeypatch):
    monkeypatch.setattr(crypto, "NONCE_BYTES", 13)
    for v in VALUES:
        with pytest.raises(crypto.IntegrityError):
            crypto.open_sealed(data_key(v["site"]), sealed(v), bytes.fromhex(v["aad"]))


def test_another_version_byte_is_refused_before_decrypting():
    v = vector("acme", None, "DB_PASSWORD")
    with pytest.raises(crypto.IntegrityError, match="malformed"):
        crypto.open_sealed(data_key("acme"), b"\x02" + sealed(v)[1:], bytes.fromhex(v["aad"]))


@pytest.mark.parametrize("label", ["apps/web", "app:web", "web"])
def test_a_changed_scope_label_opens_nothing(label):
    v = vector("acme", "web", "API_KEY")
    aad = f"secret\x00acme\x00{label}\x00API_KEY\x002".encode()
    with pytest.raises(InvalidTag):
        AESGCM(data_key("acme")).decrypt(sealed(v)[1:13], sealed(v)[13:], aad)


def test_a_ciphertext_moved_to_another_app_fails():
    v = vector("acme", "web", "API_KEY")
    with pytest.raises(crypto.IntegrityError):
        Keyring(MASTER).open_value(site_row("acme"), "api", "API_KEY", 2, sealed(v))


def test_a_ciphertext_moved_from_an_app_to_the_site_fails():
    v = vector("acme", "web", "API_KEY")
    with pytest.raises(crypto.IntegrityError):
        Keyring(MASTER).open_value(site_row("acme"), None, "API_KEY", 2, sealed(v))


def test_a_ciphertext_moved_to_another_site_under_the_same_data_key_fails():
    v = vector("acme", "web", "API_KEY")
    with pytest.raises(crypto.IntegrityError):
        crypto.open_sealed(data_key("acme"), sealed(v), crypto.value_aad("globex", "web", "API_KEY", 2))


def test_a_ciphertext_moved_to_another_site_fails():
    v = vector("acme", "web", "API_KEY")
    with pytest.raises(crypto.IntegrityError):
        Keyring(MASTER).open_value(site_row("globex"), "web", "API_KEY", 2, sealed(v))


def test_a_ciphertext_moved_to_another_version_fails():
    v = vector("acme", "web", "API_KEY")
    with pytest.raises(crypto.IntegrityError):
        Keyring(MASTER).open_value(site_row("acme"), "web", "API_KEY", 3, sealed(v))


def test_fields_are_separated_so_name_a1_version_2_is_not_name_a_version_12():
    assert crypto.value_aad("acme", None, "A1", 2) != crypto.value_aad("acme", None, "A", 12)
    a1, a = vector("acme", None, "A1"), vector("acme", None, "A")
    keyring = Keyring(MASTER)
    with pytest.raises(crypto.IntegrityError):
        keyring.open_value(site_row("acme"), None, "A", 12, sealed(a1))
    with pytest.raises(crypto.IntegrityError):
        keyring.open_value(site_row("acme"), None, "A1", 2, sealed(a))


def test_a_value_sealed_now_opens_under_the_committed_format():
    blob = crypto.seal(data_key("acme"), "fresh".encode(), crypto.value_aad("acme", None, "NEW", 1))
    assert blob[:1] == b"\x01" and len(blob) == 1 + 12 + 5 + 16
    aad = crypto.value_aad("acme", None, "NEW", 1)
    assert AESGCM(data_key("acme")).decrypt(blob[1:13], blob[13:], aad) == b"fresh"


@pytest.mark.parametrize("key", [bytes(32), bytes(range(64)), b"k" * 65, b""], ids=["32", "64", "65", "empty"])
def test_the_audit_key_macs_as_hmac_does(key):
    # `AuditKey` computes HMAC-SHA256 from its two padded states (fewer instructions per link than
    # `hmac.digest`): it must be that function, byte for byte, for keys of every length
    for message in (b"", b"x", bytes(range(256)) * 3):
        assert AuditKey(key).mac(message) == hmac.digest(key, message, "sha256")
