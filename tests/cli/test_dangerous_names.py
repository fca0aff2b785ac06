"""`run` refuses secrets whose names change how a program is loaded or run, unless the user names
each with `--allow-env`; ordinary names that merely look alike pass."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cli_helpers import Live, base_env, run_text
from tui.envpolicy import is_dangerous, refused

PRINT_ENV = [sys.executable, "-c", "import json,os,sys; sys.stdout.write(json.dumps(dict(os.environ)))"]


def service_with(live: Live, secrets: dict[str, str]) -> tuple[str, str]:
    """A new site whose service `svc` binds `secrets` (site-level); (site, service token)."""
    site = live.new_site("danger")
    for name, value in secrets.items():
        live.put_secret(site, name, value)
    live.new_service(site, "svc", None, [{"name": name} for name in secrets])
    return site, live.mint("service", site, "svc")


def run_svc(live: Live, site: str, token: str, *args: str) -> subprocess.CompletedProcess:
    env = base_env(SITESECRETS_URL=live.url, SITESECRETS_TOKEN=token)
    return run_text([sys.executable, "-m", "tui.cli", "run", "--service", "svc", "--site", site, *args], env=env)


@pytest.mark.parametrize("name", ["LD_PRELOAD", "LD_LIBRARY_PATH", "DYLD_INSERT_LIBRARIES", "PATH", "PYTHONPATH",
                                  "PYTHONSTARTUP", "NODE_OPTIONS", "BASH_ENV", "ENV", "PERL5OPT", "RUBYOPT",
                                  "JAVA_TOOL_OPTIONS"])
def test_dangerous_name_is_refused_and_cmd_not_started(live, tmp_path, name):
    site, token = service_with(live, {name: "/tmp/evil", "SAFE": "fine"})
    marker = tmp_path / "started"
    result = run_svc(live, site, token, "--", sys.executable, "-c", f"open({str(marker)!r}, 'w').close()")
    assert result.returncode == 1
    assert name in result.stderr and "--allow-env" in result.stderr
    assert "/tmp/evil" not in result.stderr
    assert not marker.exists()


def test_allow_env_lets_the_named_variable_through(live):
    site, token = service_with(live, {"NODE_OPTIONS": "--max-old-space-size=64", "SAFE": "fine"})
    result = run_svc(live, site, token, "--allow-env", "NODE_OPTIONS", "--", *PRINT_ENV)
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    assert env["NODE_OPTIONS"] == "--max-old-space-size=64" and env["SAFE"] == "fine"


def test_allow_env_for_one_name_does_not_allow_another(live, tmp_path):
    site, token = service_with(live, {"NODE_OPTIONS": "x", "PYTHONPATH": "/tmp/evil"})
    marker = tmp_path / "started"
    result = run_svc(live, site, token, "--allow-env", "NODE_OPTIONS", "--",
                     sys.executable, "-c", f"open({str(marker)!r}, 'w').close()")
    assert result.returncode == 1
    assert "PYTHONPATH" in result.stderr and "NODE_OPTIONS" not in result.stderr
    assert not marker.exists()


def test_harmless_names_that_look_alike_pass(live):
    secrets = {"NODE_ENV": "production", "PYTHON_API_KEY": "k1", "LDAP_URL": "ldap://x", "PATH_PREFIX": "/api",
               "HOMEPAGE": "https://example.org", "MY_PATH": "/srv"}
    site, token = service_with(live, secrets)
    result = run_svc(live, site, token, "--", *PRINT_ENV)
    assert result.returncode == 0, result.stderr
    env = json.loads(result.stdout)
    assert {k: env[k] for k in secrets} == secrets


@pytest.mark.parametrize("name", ["LD_AUDIT", "DYLD_LIBRARY_PATH", "BASH_FUNC_foo%%", "GIT_SSH_COMMAND", "PYTHONHOME"])
def test_policy_covers_loader_families_and_interpreter_hooks(name):
    assert is_dangerous(name)


@pytest.mark.parametrize("name", ["NODE_ENV", "PYTHON_API_KEY", "LDAP_URL", "DATABASE_URL", "PATHS", "LD"])
def test_policy_leaves_ordinary_names_alone(name):
    assert not is_dangerous(name)


def test_refused_lists_only_names_not_allowed_sorted():
    assert refused(["SAFE", "PATH", "LD_PRELOAD", "NODE_OPTIONS"], {"NODE_OPTIONS"}) == ["LD_PRELOAD", "PATH"]
