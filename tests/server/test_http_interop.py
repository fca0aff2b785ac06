"""Issue 12, part 1: real HTTP clients against the real server (curl, `ab -k`, httpx, requests),
for the cases where the hand-written framing failed them. curl and ab are external programs: a
test that needs one is skipped, saying so, on a machine without it. Tokens reach curl through a
header file, never its command line.
"""

from __future__ import annotations

import shutil
import subprocess
import threading

import httpx
import pytest
import requests

from server.wsgiserver import WSGIServer

SECRETS = "/v1/sites/default/secrets"
MIB = 1024 * 1024
CEILING = 60

needs_curl = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed on this machine")
needs_ab = pytest.mark.skipif(shutil.which("ab") is None,
                              reason="ab is not installed on this machine (Debian: apt-get install apache2-utils)")


@pytest.fixture
def url(app):
    server = WSGIServer(app, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.url
    server.shutdown()
    thread.join(CEILING)


@pytest.fixture
def header_file(tmp_path):
    """`header_file(token)`: a 0600 file of request headers for curl's `-H @file`."""

    def make(token: str) -> str:
        path = tmp_path / "headers"
        path.write_text(f"Authorization: Bearer {token}\nContent-Type: application/json\n")
        path.chmod(0o600)
        return str(path)

    return make


@pytest.fixture
def body_file(tmp_path):
    def make(size: int) -> str:
        path = tmp_path / f"body-{size}"
        path.write_bytes(b"x" * size)
        return str(path)

    return make


def curl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "--silent", "--show-error", "--max-time", str(CEILING), *args],
                          capture_output=True, text=True, timeout=CEILING + 10)


# ------------------------------------------------------------------ curl


@needs_curl
def test_curl_http10_keep_alive_gets_both_answers(url) -> None:
    result = curl("--http1.0", "-H", "Connection: keep-alive", "-o", "/dev/null", "-o", "/dev/null",
                  "-w", "%{http_code}\n", f"{url}/v1/health", f"{url}/v1/health")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["200", "200"]


@needs_curl
def test_curl_expect_with_a_bad_token_gets_401_and_no_100(url, header_file, body_file) -> None:
    result = curl("-v", "-H", f"@{header_file('ss_wrong')}", "-H", "Expect: 100-continue",
                  "--data-binary", f"@{body_file(3 * MIB)}", "-o", "/dev/null", "-w", "%{http_code}", f"{url}{SECRETS}")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "401"
    assert "100 Continue" not in result.stderr


@needs_curl
def test_curl_expect_with_a_good_token_gets_100_then_201(url, header_file, admin_token, tmp_path) -> None:
    body = tmp_path / "secret.json"
    body.write_text('{"name": "FROM_CURL", "value": "v"}')
    result = curl("-v", "-H", f"@{header_file(admin_token)}", "-H", "Expect: 100-continue",
                  "--data-binary", f"@{body}", "-o", "/dev/null", "-w", "%{http_code}", f"{url}{SECRETS}")
    assert result.stdout == "201", result.stderr
    assert "HTTP/1.1 100 Continue" in result.stderr


@needs_curl
@pytest.mark.parametrize("size", [3 * MIB, 30 * MIB], ids=["3MB", "30MB"])
def test_curl_body_over_the_limit_reads_413(url, header_file, body_file, admin_token, size) -> None:
    result = curl("-H", f"@{header_file(admin_token)}", "--data-binary", f"@{body_file(size)}",
                  "-w", "\n%{http_code}", f"{url}{SECRETS}")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("\n413") and "payload_too_large" in result.stdout


# ------------------------------------------------------------------ ab -k (HTTP/1.0 keep-alive)


@needs_ab
def test_ab_keep_alive_completes_every_request(url) -> None:
    result = subprocess.run(["ab", "-k", "-n", "200", "-c", "4", "-s", "20", f"{url}/v1/health"],
                            capture_output=True, text=True, timeout=CEILING)
    assert result.returncode == 0, result.stderr
    assert "Complete requests:      200" in result.stdout
    assert "Failed requests:        0" in result.stdout


# ------------------------------------------------------------------ httpx and requests


def test_httpx_head_then_get_on_one_kept_alive_connection(url) -> None:
    with httpx.Client(base_url=url) as client:
        head = client.head("/v1/health")
        get = client.get("/v1/health")
        peers = {r.extensions["network_stream"].get_extra_info("client_addr") for r in (head, get)}
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["content-length"]) == len(get.content)
    assert get.json()["status"] == "ok"
    assert len(peers) == 1  # the GET went over the HEAD's connection, and was read in step


@pytest.mark.parametrize("size", [3 * MIB, 30 * MIB], ids=["3MB", "30MB"])
def test_httpx_body_over_the_limit_reads_413(url, admin_token, size) -> None:
    with httpx.Client(base_url=url, timeout=CEILING) as client:
        response = client.post(SECRETS, content=b"x" * size,
                               headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("size", [3 * MIB, 30 * MIB], ids=["3MB", "30MB"])
def test_requests_body_over_the_limit_reads_413(url, admin_token, size) -> None:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment between us and loopback
        response = session.post(f"{url}{SECRETS}", data=b"x" * size, timeout=CEILING,
                                headers={"Authorization": f"Bearer {admin_token}", "Content-Type": "application/json"})
    assert response.status_code == 413 and response.json()["error"]["code"] == "payload_too_large"
