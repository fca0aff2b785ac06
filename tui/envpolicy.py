"""Variables `sitesecrets run` will not set from a secret unless the user names them.

Each of these is read, by a common runtime or tool the service may start, as code or as a path
to code (a library, a module, a config file that names a command, a program to run). A secret with
such a name would let anyone who may edit secrets run code on the service's host, so `run` refuses
it unless `--allow-env NAME` says the user means it. This is the one list: each group says what it
protects against. Names are case-sensitive, as the environment is, except where the tool that reads
them is not (npm).

Left out on purpose, because they name data, not code: TERMINFO (terminal descriptions),
PGSERVICEFILE (connection settings, which DATABASE_URL-like secrets set anyway), CA bundles and
proxies (where a connection goes is what many legitimate secrets set).
"""

from __future__ import annotations

GROUPS: dict[str, tuple[frozenset[str], tuple[str, ...]]] = {
    # The dynamic loader and libc: preloaded libraries, library paths, iconv modules (GCONV_PATH loads
    # a shared object), message catalogues, and the resolver files (a secret must not redirect names).
    "loader and libc": (frozenset({
        "GCONV_PATH", "NLSPATH", "MALLOC_CHECK_", "HOSTALIASES", "LOCALDOMAIN", "RES_OPTIONS",
    }), ("LD_", "DYLD_")),
    # Shells: startup files (BASH_ENV, ENV, ZDOTDIR), exported functions, prompts and traces that are
    # expanded with command substitution, options that turn on xtrace, and where commands are looked up.
    "shells": (frozenset({
        "PATH", "BASH_ENV", "ENV", "ZDOTDIR", "SHELLOPTS", "BASHOPTS", "PS0", "PS1", "PS4", "PROMPT_COMMAND",
        "IFS", "CDPATH", "GLOBIGNORE", "FPATH", "HOME", "SHELL", "TMPDIR", "XDG_CONFIG_HOME", "XDG_CONFIG_DIRS",
    }), ("BASH_FUNC_",)),
    # Git runs commands named in its config (core.fsmonitor, core.sshCommand, aliases, hooks): config
    # given through the environment, another repository's config (GIT_DIR), hook templates, and the
    # programs it starts (ssh, askpass, proxy, diff, pager, editors, its own sub-commands).
    "git": (frozenset({
        "GIT_EXEC_PATH", "GIT_ASKPASS", "GIT_PROXY_COMMAND", "GIT_EXTERNAL_DIFF", "GIT_PAGER", "GIT_EDITOR",
        "GIT_SEQUENCE_EDITOR", "GIT_TEMPLATE_DIR", "GIT_DIR", "GIT_COMMON_DIR",
    }), ("GIT_CONFIG", "GIT_SSH")),
    # Programs other tools start on the user's behalf: editors, pagers (less runs LESSOPEN/LESSCLOSE
    # and `+!cmd` in LESS), browsers, askpass helpers.
    "helper programs": (frozenset({
        "EDITOR", "VISUAL", "FCEDIT", "PAGER", "MANPAGER", "MANOPT", "LESS", "LESSOPEN", "LESSCLOSE", "BROWSER",
        "SSH_ASKPASS", "SUDO_ASKPASS", "SUDO_EDITOR", "SYSTEMD_PAGER", "SYSTEMD_EDITOR",
    }), ()),
    # Python: module search paths, the standard library's location, start-up and breakpoint hooks, the
    # bytecode cache (a .pyc is code), and warning filters (a filter's category is imported).
    "python": (frozenset({
        "PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PYTHONINSPECT", "PYTHONUSERBASE", "PYTHONBREAKPOINT",
        "PYTHONWARNINGS", "PYTHONEXECUTABLE", "PYTHONPLATLIBDIR", "PYTHONPYCACHEPREFIX",
    }), ()),
    # Node.js and npm: `--require`/`--import` in NODE_OPTIONS, module paths, npm's config from the
    # environment (npm_config_script_shell, node_options, globalconfig, ... in any case).
    "node": (frozenset({"NODE_OPTIONS", "NODE_PATH", "NODE_REPL_EXTERNAL_MODULE"}), ("NPM_CONFIG_",)),
    # Perl, Ruby, PHP, R, Lua, Tcl: interpreter options, library paths, start-up and ini files
    # (PHP's auto_prepend_file, R's profiles, LUA_INIT's chunk), Bundler's Gemfile (Ruby code).
    "scripting runtimes": (frozenset({
        "PERL5OPT", "PERL5LIB", "PERLLIB", "PERL5DB", "RUBYOPT", "RUBYLIB", "BUNDLE_GEMFILE", "PHPRC",
        "PHP_INI_SCAN_DIR", "R_PROFILE", "R_PROFILE_USER", "R_ENVIRON", "R_ENVIRON_USER", "R_LIBS", "R_LIBS_USER",
        "TCLLIBPATH",
    }), ("GEM_", "LUA_INIT", "LUA_PATH", "LUA_CPATH")),
    # The JVM: options that add agents (-javaagent) or change the class path, and where the JVM is.
    "jvm": (frozenset({
        "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "JAVA_OPTS", "JAVA_HOME", "CLASSPATH",
        "MAVEN_OPTS", "GRADLE_OPTS",
    }), ()),
    # .NET: start-up hooks, extra dependency manifests and profilers are assemblies or libraries it loads.
    ".net": (frozenset({"DOTNET_STARTUP_HOOKS", "DOTNET_ADDITIONAL_DEPS", "COR_PROFILER_PATH"}),
             ("CORECLR_PROFILER",)),
    # Erlang and Elixir: emulator flags (`-eval`, `-s`), code paths, and the options Elixir passes on.
    "erlang": (frozenset({"ELIXIR_ERL_OPTIONS"}), ("ERL_",)),
    # OpenSSL: its config can load engines and providers (shared libraries), as can the module paths.
    "openssl": (frozenset({"OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES"}), ()),
}

CASE_INSENSITIVE_PREFIXES = ("NPM_CONFIG_",)  # npm reads npm_config_* whatever the case

DANGEROUS_NAMES = frozenset().union(*(names for names, _ in GROUPS.values()))
DANGEROUS_PREFIXES = tuple(prefix for _, prefixes in GROUPS.values() for prefix in prefixes)


def is_dangerous(name: str) -> bool:
    return (name in DANGEROUS_NAMES or name.startswith(DANGEROUS_PREFIXES)
            or name.upper().startswith(CASE_INSENSITIVE_PREFIXES))


def refused(names: list[str], allowed: set[str]) -> list[str]:
    """The names among `names` that `run` must not set, given the user's `--allow-env` list."""
    return sorted(n for n in names if is_dangerous(n) and n not in allowed)


def refusal(verb: str, blocked: list[str]) -> str:
    """Why `run` or `export` writes none of `blocked` (names `refused` found): the start of its sentence."""
    subject = "it changes" if len(blocked) == 1 else "they change"
    return f"refusing to {verb} {', '.join(blocked)}: {subject} how programs load"
