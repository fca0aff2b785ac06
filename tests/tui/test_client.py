"""The API client: typed errors from API.md's error shape, unreachable servers, and refusing to
send a token in clear text off the machine."""

from __future__ import annotations

import pytest
import respx

from tui.client import ApiError, InsecureTransportError, ServerUnreachable, SiteSecretsClient

BASE = "http://127.0.0.1:8716"


def test_error_body_becomes_typed_api_error():
    with respx.mock(base_url=BASE) as mock:
        mock.delete("/v1/sites/s/secrets/X").respond(409, json={"error": {
            "code": "secret_in_use", "message": "in use", "details": {"services": ["web"]}}})
        with pytest.raises(ApiError) as caught:
            SiteSecretsClient(BASE, "t").delete_secret("s", None, "X")
    assert (caught.value.code, caught.value.message, caught.value.status) == ("secret_in_use", "in use", 409)
    assert caught.value.details == {"services": ["web"]}


def test_validation_error_exposes_field_pointers():
    error = ApiError("validation_error", "bad", {"errors": [{"path": "/port", "message": "too big"}]}, 422)
    assert error.field_errors() == [("/port", "too big")]


def test_unreachable_server_is_server_unreachable():
    client = SiteSecretsClient("http://127.0.0.1:9", "t", timeout=2)
    with pytest.raises(ServerUnreachable, match="Cannot reach the server"):
        client.whoami()


def test_reply_that_does_not_match_model_never_echoes_body():
    with respx.mock(base_url=BASE) as mock:
        mock.post("/v1/sites/s/secrets/X/reveal").respond(200, json={"value": 7, "oops": "the-value"})
        with pytest.raises(ApiError) as caught:
            SiteSecretsClient(BASE, "t").reveal("s", None, "X")
    assert "the-value" not in str(caught.value) and caught.value.code == "bad_response"


def test_non_json_error_gets_a_status_sentence():
    with respx.mock(base_url=BASE) as mock:
        mock.get("/v1/whoami").respond(502, text="<html>bad gateway</html>")
        with pytest.raises(ApiError, match="HTTP 502"):
            SiteSecretsClient(BASE, "t").whoami()


def test_token_sent_as_bearer_and_names_are_path_escaped():
    with respx.mock(base_url=BASE) as mock:
        route = mock.get("/v1/sites/a%2Fb/secrets/N").respond(404, json={"error": {"code": "not_found", "message": "no"}})
        with pytest.raises(ApiError):
            SiteSecretsClient(BASE, "tok").get_secret("a/b", None, "N")
    assert route.calls.last.request.headers["Authorization"] == "Bearer tok"


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.5:8716", "http://[2001:db8::1]/"])
def test_refuses_plain_http_to_other_hosts(url):
    with pytest.raises(InsecureTransportError):
        SiteSecretsClient(url, "t")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8716", "http://localhost", "http://[::1]:1", "https://example.com"])
def test_allows_loopback_and_https(url):
    SiteSecretsClient(url, "t").close()


def test_insecure_flag_allows_plain_http():
    SiteSecretsClient("http://example.com", "t", insecure=True).close()


def test_bad_url_is_value_error():
    with pytest.raises(ValueError, match="not a server URL"):
        SiteSecretsClient("ftp://x", "t")
    with pytest.raises(ValueError):
        SiteSecretsClient("localhost:8716", "t")


def test_an_audit_verify_waits_for_the_walk_not_the_usual_timeout():
    from tui.client import VERIFY_SECONDS

    with respx.mock(base_url=BASE) as mock:
        verify = mock.get("/v1/sites/s/audit/verify").respond(200, json={"ok": True, "events": 3})
        others = mock.get("/v1/sites/s").respond(404, json={"error": {"code": "not_found", "message": "no"}})
        client = SiteSecretsClient(BASE, "t", timeout=7)
        assert client.verify_audit("s").events == 3
        with pytest.raises(ApiError):
            client.get_site("s")
    walk = verify.calls.last.request.extensions["timeout"]
    assert walk["read"] == VERIFY_SECONDS and walk["connect"] == 7  # still quick to say the server is gone
    assert others.calls.last.request.extensions["timeout"]["read"] == 7
