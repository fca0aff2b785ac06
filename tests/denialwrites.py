"""Writing what the server writes for a denial repeated within its window, without waiting for
the window: the tests of every view of the audit log that shows a coalesced denial use it."""

from __future__ import annotations


def write_repeated_denial(store, site: str, actor: str, repeats: int) -> None:
    """Deny `actor`'s reveal of site-level DB in `site` 1 + `repeats` times through the server's own
    `DenialLog` on `store`, then close its window by its clock (not after a real minute): the
    first denial's event and one event counting the `repeats` are in the log."""
    from server.context import utc_now
    from server.denials import DenialLog
    from server.store import AuditRecord

    now = [1000.0]
    denials = DenialLog(store, clock=lambda: now[0], background=False)
    event = AuditRecord.of("secret.reveal", at=utc_now(), outcome="denied", actor=actor, actor_id="tok_v",
                           site=site, target="secret:site/DB", source="127.0.0.1", details={"role": "viewer"})
    for _ in range(1 + repeats):
        denials.deny(event)
    now[0] += denials.window
    assert denials.flush_due() == 1
