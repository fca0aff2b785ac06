"""Variables `sitesecrets run` will not set from a secret unless the user names them.

Each of these changes how a program is loaded or run, so a secret with such a name would let
anyone who may edit secrets run code on the service's host. This is the one list.
"""

from __future__ import annotations

DANGEROUS_NAMES = frozenset({
    "PATH", "BASH_ENV", "ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND", "IFS", "CDPATH",
    "GLOBIGNORE", "HOME", "SHELL", "TMPDIR", "GCONV_PATH", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS",
    "NLSPATH", "MALLOC_CHECK_", "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT",
    "PYTHONUSERBASE", "PYTHONBREAKPOINT", "PYTHONWARNINGS", "PYTHONEXECUTABLE",
    "NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE", "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB",
    "RUBYOPT", "RUBYLIB", "GEM_PATH", "GEM_HOME", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS",
    "CLASSPATH", "PHPRC", "PHP_INI_SCAN_DIR", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH", "EDITOR",
    "VISUAL", "PAGER", "LESSOPEN", "LESSCLOSE", "DOTNET_STARTUP_HOOKS", "R_PROFILE", "R_PROFILE_USER",
})
DANGEROUS_PREFIXES = ("LD_", "DYLD_", "BASH_FUNC_")  # loader and exported-function families


def is_dangerous(name: str) -> bool:
    return name in DANGEROUS_NAMES or name.startswith(DANGEROUS_PREFIXES)


def refused(names: list[str], allowed: set[str]) -> list[str]:
    """The names among `names` that `run` must not set, given the user's `--allow-env` list."""
    return sorted(n for n in names if is_dangerous(n) and n not in allowed)
