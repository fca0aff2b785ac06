"""Row 8's child process: open the TUI headless, exit on the first refresh after the table holds its rows.

`python -m bench.tui_probe URL TOKEN SITE` builds the App the way `sitesecrets` does
(`tui.cli.build_app`: client, settings, `connect` (whoami and the site), then Textual) and prints
`FRAME <time.monotonic()>` when that frame is painted, then `ROWS <n>` and `MAXRSS_KIB <peak>`.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time

WANT_ROWS = 100


def peak_rss_kib() -> int:
    """This process's own peak resident set (VmHWM). Not `getrusage(...).ru_maxrss`: on Linux that
    also keeps the peak of the memory image replaced at exec, which for a child started with vfork
    (as `subprocess` does) is the parent's, so the probe would report the bench's own size."""
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def first_frame(app) -> int:
    """Run `app` headless until the first refresh after `#secrets-table` holds `WANT_ROWS` rows;
    print when that frame was painted (see the module), then exit."""
    seen: dict[str, float | int] = {}

    def painted() -> None:
        seen["frame"] = time.monotonic()
        app.exit()

    async def auto_pilot(pilot) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tables = app.screen.query("#secrets-table")
            if tables and tables.first().row_count >= WANT_ROWS:
                seen["rows"] = tables.first().row_count
                app.call_after_refresh(painted)
                return
            await asyncio.sleep(0.002)
        app.exit()

    app.run(headless=True, auto_pilot=auto_pilot)
    if "frame" in seen:
        print(f"FRAME {seen['frame']}")
        print(f"ROWS {seen['rows']}")
    print(f"MAXRSS_KIB {peak_rss_kib()}")
    return 0


def main(url: str, token: str, site: str) -> int:
    from tui.cli import build_app
    from tui.client import SiteSecretsClient
    from tui.settings import Settings

    client = SiteSecretsClient(url, token)
    try:
        return first_frame(build_app(client, Settings(url=client.url, site=site)))
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
