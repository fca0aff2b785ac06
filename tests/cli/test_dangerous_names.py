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


CODE_NAMES = [
    "GIT_CONFIG_COUNT", "GIT_CONFIG_KEY_0", "GIT_CONFIG_VALUE_0", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_GLOBAL",
    "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "GIT_ASKPASS", "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF",
    "GIT_PAGER", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "GIT_TEMPLATE_DIR", "GIT_DIR", "ERL_AFLAGS", "ERL_ZFLAGS",
    "ERL_FLAGS", "ERL_LIBS", "ELIXIR_ERL_OPTIONS", "LUA_INIT", "LUA_INIT_5_4", "LUA_PATH", "LUA_CPATH_5_4",
    "BROWSER", "EDITOR", "VISUAL", "PAGER", "MANPAGER", "LESS", "LESSOPEN", "LESSCLOSE", "SSH_ASKPASS",
    "ZDOTDIR", "PROMPT_COMMAND", "PS4", "SHELLOPTS", "BASHOPTS", "PERL5LIB", "RUBYLIB", "GEM_HOME", "GEM_PATH",
    "BUNDLE_GEMFILE", "NODE_PATH", "npm_config_script_shell", "NPM_CONFIG_NODE_OPTIONS", "CLASSPATH",
    "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "DOTNET_STARTUP_HOOKS", "CORECLR_PROFILER_PATH", "PYTHONHOME",
    "PYTHONUSERBASE", "PYTHONWARNINGS", "PYTHONPYCACHEPREFIX", "PHPRC", "PHP_INI_SCAN_DIR", "R_PROFILE_USER",
    "R_ENVIRON_USER", "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "GCONV_PATH", "XDG_CONFIG_HOME",
]


@pytest.mark.parametrize("name", CODE_NAMES)
def test_policy_covers_variables_read_as_code_or_a_path_to_code(name):
    assert is_dangerous(name)


@pytest.mark.parametrize("name", ["GIT_TOKEN", "GIT_ACCESS_TOKEN", "GEMFURY_TOKEN", "ERLANG_COOKIE", "LESSON",
                                  "BUNDLE_GEMS__EXAMPLE__COM", "TERMINFO", "PGSERVICEFILE", "EDITOR_URL"])
def test_policy_leaves_tool_credentials_and_data_paths_alone(name):
    assert not is_dangerous(name)


def test_a_git_config_secret_makes_run_refuse_to_start(live, tmp_path):
    site, token = service_with(live, {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.fsmonitor",
                                      "GIT_CONFIG_VALUE_0": "touch /tmp/x #"})
    marker = tmp_path / "started"
    result = run_svc(live, site, token, "--", sys.executable, "-c", f"open({str(marker)!r}, 'w').close()")
    assert result.returncode == 1
    assert "GIT_CONFIG_COUNT, GIT_CONFIG_KEY_0, GIT_CONFIG_VALUE_0" in result.stderr
    assert not marker.exists()


def test_an_erlang_flags_secret_makes_run_refuse_to_start(live):
    site, token = service_with(live, {"ERL_AFLAGS": "-eval 'os:cmd(\"id\")'"})
    result = run_svc(live, site, token, "--", sys.executable, "-c", "pass")
    assert result.returncode == 1 and "ERL_AFLAGS" in result.stderr and "os:cmd" not in result.stderr


def _git_repo(tmp_path) -> str:
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True, env=base_env())
    (repo / "file").write_text("a\n")
    subprocess.run(["git", "-C", str(repo), "add", "file"], check=True, env=base_env())
    return str(repo)


def fsmonitor_secrets(marker) -> dict[str, str]:
    """git runs core.fsmonitor through the shell on `git status`; `#` drops the arguments it appends."""
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.fsmonitor", "GIT_CONFIG_VALUE_0": f"touch {marker} #"}


def test_git_fsmonitor_secrets_no_longer_run_a_command(live, tmp_path):
    marker = tmp_path / "ran"
    site, token = service_with(live, fsmonitor_secrets(marker))
    result = run_svc(live, site, token, "--", "git", "-C", _git_repo(tmp_path), "status", "--short")
    assert result.returncode == 1 and "GIT_CONFIG_COUNT" in result.stderr
    assert not marker.exists()


def test_git_fsmonitor_secrets_do_run_a_command_when_allowed_so_the_refusal_matters(live, tmp_path):
    marker = tmp_path / "ran"
    site, token = service_with(live, fsmonitor_secrets(marker))
    allow = [arg for name in fsmonitor_secrets(marker) for arg in ("--allow-env", name)]
    result = run_svc(live, site, token, *allow, "--", "git", "-C", _git_repo(tmp_path), "status", "--short")
    assert result.returncode == 0, result.stderr
    assert marker.exists()
