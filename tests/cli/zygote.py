"""The zygote of the command-line tests (`forkserver.py` starts and speaks to it):
`python zygote.py FD MODULE WARM...` imports the WARM modules, then forks a child for each request
on FD (a SOCK_SEQPACKET socket) that runs MODULE as `python -m MODULE` would, in the request's
environment, directory, umask and stdio, and exits with the status the interpreter would give.

Protocol: a request is one message (JSON: argv, env, cwd, umask) carrying four descriptors (stdin,
stdout, stderr, and a reply socket). On the reply socket the zygote sends `pid N` with a pidfd of
the child (so the caller can kill it without racing pid reuse), then `status N` (N as subprocess
reports it: -S for signal S) once it has ended; or `error FileNotFoundError DIR` instead of both
when the directory is not there. The zygote exits when FD closes.

It never touches signal handlers, so its children inherit those of a fresh interpreter, and it
runs no thread, so forking it is safe.
"""

from __future__ import annotations

import io
import json
import os
import selectors
import signal
import socket
import sys
import tempfile
import threading
import traceback
from typing import NoReturn

MODULE = "tui.cli"  # the module requests run; set from argv
_EXIT_FAILED = 125
_STDIO = {}  # name -> (encoding, errors, write_through), as this interpreter chose them at start


def serve(ctl: socket.socket) -> None:
    """Fork a child for each request on `ctl` until it closes; report each child's pid and status."""
    selector = selectors.DefaultSelector()
    selector.register(ctl, selectors.EVENT_READ)
    running: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, reply socket)
    while True:
        for key, _ in selector.select():
            if key.fileobj is ctl:
                message, fds, _, _ = socket.recv_fds(ctl, 1 << 20, 4)
                if not message:
                    return  # the test process is done (or gone)
                started = _fork(json.loads(message), fds, ctl, running)
                if started is not None:
                    running[started[0]] = started[1:]
                    selector.register(started[0], selectors.EVENT_READ)
            else:
                pid, reply = running.pop(key.fd)
                selector.unregister(key.fd)
                os.close(key.fd)
                _, wait_status = os.waitpid(pid, 0)
                try:
                    reply.send(b"status %d" % os.waitstatus_to_exitcode(wait_status))
                except OSError:
                    pass  # the caller gave up on it (a timeout)
                reply.close()


def _fork(request: dict, fds: list[int], ctl: socket.socket, running: dict) -> tuple[int, int, socket.socket] | None:
    stdin, stdout, stderr, reply_fd = fds
    reply = socket.socket(fileno=reply_fd)
    if not os.path.isdir(request["cwd"]):
        reply.send(b"error FileNotFoundError " + request["cwd"].encode(errors="surrogateescape"))
        reply.close()
        pid = None
    else:
        pid = os.fork()
        if pid == 0:
            _child(request, (stdin, stdout, stderr), reply, ctl, running)
        pidfd = os.pidfd_open(pid)
        try:
            socket.send_fds(reply, [b"pid %d" % pid], [pidfd])
        except OSError:
            pass  # the caller is gone; the child is reaped all the same
    for fd in (stdin, stdout, stderr):
        os.close(fd)
    return None if pid is None else (pidfd, pid, reply)


def _child(request: dict, stdio: tuple[int, int, int], reply: socket.socket, ctl: socket.socket,
           running: dict) -> NoReturn:
    """In the forked child: become the request's process and run MODULE in it. If that cannot be
    done the caller hears `setup-failed` (not an exit status that a test could take for the
    command's)."""
    try:
        os.close(ctl.detach())
        for pidfd, (_, other) in running.items():
            os.close(pidfd)
            os.close(other.detach())
        _become(request, *stdio, keep=reply.fileno())
    except BaseException:
        try:
            reply.send(b"setup-failed " + traceback.format_exc()[-4000:].encode(errors="replace"))
        finally:
            os._exit(_EXIT_FAILED)
    os.close(reply.detach())
    os._exit(_run_as_main())


def _become(request: dict, stdin: int, stdout: int, stderr: int, keep: int) -> None:
    """Take the request's descriptors (and close every other but `keep`), environment, directory,
    umask and argv, and build sys.stdin/stdout/stderr on them."""
    for target, fd in enumerate((stdin, stdout, stderr)):
        os.dup2(fd, target)
    for fd in {stdin, stdout, stderr}:
        os.close(fd)
    os.closerange(3, keep)  # nothing of the zygote's beyond 0, 1 and 2
    os.closerange(keep + 1, os.sysconf("SC_OPEN_MAX"))
    os.chdir(request["cwd"])
    os.umask(request["umask"])
    os.environ.clear()  # in place: modules hold `os.environ` itself (default arguments)
    os.environ.update(request["env"])
    tempfile.tempdir = None  # read TMPDIR again, from this environment
    if "tui.ownenv" in sys.modules:  # what the warm imports set for themselves, over this environment
        sys.modules["tui.ownenv"].environment_replaced()
    sys.path[0] = os.getcwd()  # what `-m` puts first
    sys.argv = ["-m", *request["argv"]]  # runpy puts the module's path in argv[0]
    for name, fd, mode in (("stdin", 0, "r"), ("stdout", 1, "w"), ("stderr", 2, "w")):
        stream = _stdio_stream(fd, mode, name)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _stdio_stream(fd: int, mode: str, name: str) -> io.TextIOWrapper:
    """sys.stdin/stdout/stderr as CPython's start builds them (Python/pylifecycle.c, create_stdio)."""
    encoding, errors, write_through = _STDIO[name]
    buffered = io.open(fd, mode + "b", buffering=0 if mode == "w" and write_through else -1, closefd=False)
    raw = buffered if isinstance(buffered, io.FileIO) else buffered.raw
    raw.name = f"<{name}>"
    line_buffering = not write_through and (raw.isatty() or fd == 2)
    stream = io.TextIOWrapper(buffered, encoding=encoding, errors=errors, newline="\n",
                              line_buffering=line_buffering, write_through=write_through)
    stream.mode = mode
    return stream


def _run_as_main() -> int:
    """Run MODULE as `python -m` does (runpy._run_module_as_main, in a new `__main__` module); the
    exit status by the interpreter's rules (Python/pythonrun.c)."""
    import runpy
    import types

    sys.modules.pop(MODULE, None)  # else runpy warns that it is already imported, as a fresh start would not
    main = types.ModuleType("__main__")
    main.__builtins__ = __builtins__
    sys.modules["__main__"] = main
    try:
        runpy._run_module_as_main(MODULE, alter_argv=True)
        status = 0
    except SystemExit as stop:
        status = _system_exit_status(stop.code)
    except BaseException as error:  # the traceback from runpy on, as the interpreter prints it
        error.__traceback__ = error.__traceback__.tb_next  # the hook prints this one, not its argument
        sys.excepthook(type(error), error, error.__traceback__)
        status = -signal.SIGINT if isinstance(error, KeyboardInterrupt) else 1
    threading._shutdown()  # as the interpreter's finalisation: wait for non-daemon threads, then atexit
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception as error:
            status = 120  # Py_FinalizeEx: a standard stream could not be flushed
            if stream is sys.stdout:  # flush_std_files reports stdout's failure only
                sys.unraisablehook(_Unraisable(type(error), error, error.__traceback__, None, stream))
    if status == -signal.SIGINT:  # an uncaught ctrl+c ends the process by SIGINT, as CPython does
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    return status & 0xFF


class _Unraisable:
    def __init__(self, exc_type, exc_value, exc_traceback, err_msg, obj) -> None:
        self.exc_type, self.exc_value, self.exc_traceback = exc_type, exc_value, exc_traceback
        self.err_msg, self.object = err_msg, obj


def _system_exit_status(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    try:
        print(code, file=sys.stderr)
    except Exception:
        pass
    return 1


def main() -> None:
    global MODULE
    ctl = socket.socket(fileno=int(sys.argv[1]))
    MODULE = sys.argv[2]
    sys.path[0] = os.getcwd()  # import from where a child run as `python -m` in this directory would
    import importlib

    for module in sys.argv[3:]:
        importlib.import_module(module)
    if threading.active_count() != 1:  # fork copies only the calling thread
        raise SystemExit(f"forkserver: the imports started threads: {threading.enumerate()}")
    for name in ("stdin", "stdout", "stderr"):
        stream = getattr(sys, name)
        _STDIO[name] = (stream.encoding, stream.errors, stream.write_through)
    ctl.send(b"ready")
    serve(ctl)


if __name__ == "__main__":
    main()
