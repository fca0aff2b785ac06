"""No core dumps from a process that holds keys.

Every `sitesecrets-server` command may hold the master key (`init` makes one; `serve`, `token
create`, `rotate-master-key`, `backup` and `restore` load it), and a server holds every site's
data key and the values in flight besides. A crash (a C extension's `abort()`, SIGQUIT, SIGSEGV)
under a host that allows core files (`LimitCORE=infinity`, `ulimit -c unlimited`, a `core_pattern`
piping to systemd-coredump or ABRT) would write all of that to disk for whoever reads cores there.
"""

from __future__ import annotations

import ctypes
import resource

_PR_SET_DUMPABLE = 4


def forbid_core_dumps() -> None:
    """Turn core dumps off for this process and every process it forks or starts: a core file size
    limit of 0 that cannot be raised again, and (Linux) the process marked not dumpable, which
    also stops a dump to a `core_pattern` pipe (ABRT ignores the size limit) and keeps other
    processes of the same user from attaching to it or reading its memory."""
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ValueError, OSError):
        pass
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):  # no prctl: not Linux
        pass
