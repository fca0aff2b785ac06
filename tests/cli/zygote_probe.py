"""A child for `test_forkserver.py`, run as `python -m zygote_probe ACTION [ARG]` in tests/cli,
either as a new interpreter or forked from a zygote, so the test can compare the two."""

import json
import os
import signal
import sys


def state() -> dict:
    """What a child can see of how it was started."""
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\t" in line)
    mask = os.umask(0)
    return {
        "env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv, "path0": sys.path[0], "name": __name__,
        "fds": sorted(os.listdir("/proc/self/fd")), "umask": mask,
        "signals": {k: status[k].strip() for k in ("SigBlk", "SigIgn", "SigCgt")},
        "handlers": {s.name: repr(signal.getsignal(s)) for s in signal.valid_signals() if isinstance(s, signal.Signals)},
        "stdio": [(s.name, s.encoding, s.errors, s.line_buffering, s.write_through, s.mode, s is getattr(sys, f"__{n}__"))
                  for n, s in (("stdin", sys.stdin), ("stdout", sys.stdout), ("stderr", sys.stderr))],
    }


def main(action: str, arg: str = "") -> None:
    if action == "exit":
        sys.exit(int(arg))
    if action == "exit-text":
        sys.exit(arg)
    if action == "raise":
        raise ValueError(arg)
    if action == "echo":  # stdin to stdout, and its length to stderr
        data = sys.stdin.buffer.read()
        sys.stdout.buffer.write(data)
        print(len(data), file=sys.stderr)
    if action == "bytes":
        sys.stdout.write("a\r\nb\rc\n")
        sys.stdout.flush()
        sys.stdout.buffer.write(b"\xff\x00")
        sys.stderr.write("e\r\n")
    if action == "write":  # ARG bytes on stdout and on stderr, at once
        sys.stdout.write("o" * int(arg))
        sys.stderr.write("e" * int(arg))
    if action == "state":
        json.dump(state(), sys.stdout)
    if action == "pid-then-wait":
        print(os.getpid(), flush=True)
        signal.pause()


if __name__ == "__main__":
    main(*sys.argv[1:])
