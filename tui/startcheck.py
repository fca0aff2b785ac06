"""Will `exec` start this command with this environment? What can be known before trying.

`sitesecrets run` records a service's load only once it is about to start CMD, so it checks here
first what would make `exec` fail: a command that is not there or may not be executed, a `#!`
interpreter that is missing, and an environment too large for the kernel to copy (E2BIG). What
cannot be known without trying (a file replaced in between, a format only the kernel can judge,
a `noexec` mount) is left to `exec` itself. Standard library only: this runs before every start.
"""

from __future__ import annotations

import errno
import os
import sys

NOT_FOUND = 127  # the shell's statuses: "command not found" ...
NOT_EXECUTABLE = 126  # ... and "found but cannot be executed"
ENVIRONMENT_REFUSED = 1  # as run's other refusals of what the server handed out

MAX_ARG_STRLEN = 32 * 4096
"""Linux's limit on one argument or one `NAME=value` string, its closing NUL included."""
FALLBACK_ARG_MAX = 128 * 1024
"""The least ARG_MAX a system may have, where `sysconf` cannot say."""
ARG_MAX_MARGIN = 4096
"""Room for what exec puts on the new stack that is not counted here (auxiliary vector, alignment)."""


class CannotStart(Exception):
    """Why CMD cannot be started; one sentence, and the exit status `run` answers with."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def check_start(argv: list[str], env: dict[str, str]) -> str:
    """The program `exec` would run for `argv` with `env`, if it can; raises CannotStart otherwise."""
    program = resolve_command(argv[0], env)
    check_interpreter(program)
    check_sizes(program, argv, env)
    return program


def failed_start_status(error: OSError) -> int:
    """The shell's status for a command whose start failed with `error`: 127 when its file is not
    there, 126 when it is but cannot be executed."""
    return NOT_FOUND if error.errno == errno.ENOENT else NOT_EXECUTABLE


def resolve_command(name: str, env: dict[str, str]) -> str:
    """`name` as `os.execvpe(name, ..., env)` finds it: itself when it holds a `/`, else the first
    executable file of that name along `env`'s PATH (or the system's default path)."""
    explicit = bool(os.path.dirname(name))
    candidates = [name] if explicit else [os.path.join(directory, name) for directory in os.get_exec_path(env)]
    present = False
    for candidate in candidates:
        if os.path.isfile(candidate):
            if os.access(candidate, os.X_OK):
                return candidate
            present = True
        elif explicit and os.path.exists(candidate):
            present = True  # a directory named on purpose: not executable rather than not found
    if present:
        raise CannotStart(f"cannot start {name}: it is not an executable file", NOT_EXECUTABLE)
    raise CannotStart(f"cannot start {name}: no such command{'' if explicit else ' on PATH'}", NOT_FOUND)


def check_interpreter(program: str) -> None:
    """A script's `#!` interpreter must be there: exec would answer ENOENT for the script itself."""
    try:
        with open(program, "rb") as file:
            head = file.read(256)  # the kernel reads no more of a `#!` line than this
    except OSError:
        return  # execute-only, or gone: exec will say
    if not head.startswith(b"#!"):
        return
    words = head[2:].split(b"\n", 1)[0].split()
    if not words:
        return  # an empty `#!` line; exec judges it
    interpreter = os.fsdecode(words[0])
    if not (os.path.isfile(interpreter) and os.access(interpreter, os.X_OK)):
        raise CannotStart(f"cannot start {program}: its interpreter {interpreter} is not an executable file",
                          NOT_EXECUTABLE)


def check_sizes(program: str, argv: list[str], env: dict[str, str]) -> None:
    """Each string within the kernel's limit and all of them within ARG_MAX; naming what is too
    large, never its value."""
    start = f"cannot start {argv[0]}:"
    sizes: dict[str, int] = {}
    for index, arg in enumerate(argv):
        sizes[f"argument {index}"] = exec_bytes(arg, f"{start} argument {index}")
    for name, value in env.items():
        if "=" in name or not name:
            raise CannotStart(f"{start} the variable {name!r} cannot be passed: a name cannot be empty or hold '='",
                              ENVIRONMENT_REFUSED)
        sizes[f"variable {name}"] = exec_bytes(f"{name}={value}", f"{start} variable {name}")
    if sys.platform.startswith("linux"):
        for what, size in sizes.items():
            if size > MAX_ARG_STRLEN:
                raise CannotStart(f"{start} {what} is {size:,} bytes, more than the {MAX_ARG_STRLEN:,} bytes exec takes "
                                  "for one string", ENVIRONMENT_REFUSED)
    pointers = (len(argv) + len(env) + 2) * 8
    total = sum(sizes.values()) + len(os.fsencode(program)) + 1 + pointers
    limit = arg_max() - ARG_MAX_MARGIN
    if total > limit:
        largest = max((w for w in sizes if w.startswith("variable ")), key=sizes.__getitem__, default="argument 0")
        raise CannotStart(f"{start} the arguments and environment come to {total:,} bytes, more than the {limit:,} exec takes; "
                          f"the largest is {largest} ({sizes[largest]:,} bytes)", ENVIRONMENT_REFUSED)


def exec_bytes(text: str, what: str) -> int:
    """The bytes exec copies for `text` (`what` names it in a refusal): its encoding and the closing NUL."""
    try:
        encoded = os.fsencode(text)
    except UnicodeError:
        raise CannotStart(f"{what} is not text this system can encode", ENVIRONMENT_REFUSED) from None
    if b"\0" in encoded:
        raise CannotStart(f"{what} holds a NUL character", ENVIRONMENT_REFUSED)
    return len(encoded) + 1


LINUX_ARG_MAX_CEILING = 6 * 1024 * 1024
"""Linux takes at most 3/4 of its 8 MiB stack default, whatever a larger (or unlimited) stack rlimit
makes `sysconf` answer."""


def arg_max() -> int:
    """The bytes of arguments, environment and their pointers exec takes on this system."""
    try:
        value = os.sysconf("SC_ARG_MAX")
    except (ValueError, OSError):
        return FALLBACK_ARG_MAX
    if value <= 0:
        return FALLBACK_ARG_MAX
    return min(value, LINUX_ARG_MAX_CEILING) if sys.platform.startswith("linux") else value
