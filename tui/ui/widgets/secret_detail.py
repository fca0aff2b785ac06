"""The detail pane of the Secrets tab: every field of the highlighted secret and its value,
masked until revealed (`ValueView` holds the value and its countdown)."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from shared.models import Secret, Service
from tui.display import safe_text, short_time
from tui.rotation import rotation_label
from tui.sitedata import id_of, services_of
from tui.ui.widgets.value_view import ValueView


class SecretDetail(VerticalScroll):
    """Shows one secret; `reveal` and `mask` manage its value."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.secret: Secret | None = None
        self.services: list[Service] = []
        """The site's services, for the version each one last loaded."""

    def compose(self):
        # The value comes first so a reveal is in view without scrolling.
        yield ValueView(id="detail-value")
        yield Static(id="detail-fields")

    @property
    def value_view(self) -> ValueView:
        return self.query_one(ValueView)

    @property
    def revealed(self) -> bool:
        return self.value_view.revealed

    def show(self, secret: Secret | None, empty: Text | None = None) -> None:
        """Show `secret` (None: `empty`, which says why nothing is shown); moving to another secret,
        or a new version of this one, re-masks."""
        if secret is None or self.secret is None or id_of(secret) != id_of(self.secret) \
                or secret.version != self.secret.version:
            self.mask()
        self.secret = secret
        fields = self._fields(secret) if secret is not None else (empty or Text("No secret selected.", style="dim"))
        self.query_one("#detail-fields", Static).update(fields)
        self._render_value()

    def reveal(self, value: str, seconds: float) -> None:
        """Show `value` for `seconds`, restarting the countdown of any earlier reveal."""
        self.value_view.reveal(value, seconds, typed=self.secret is not None and self.secret.type is not None)
        self.scroll_home(animate=False)

    def mask(self) -> None:
        """Hide the value and forget it."""
        if self.is_mounted:
            self.value_view.mask()

    def _render_value(self) -> None:
        view = self.value_view
        view.shown = self.secret is not None
        view.hint = "(s shows it)" if self.app.can_reveal else "(viewers cannot reveal values)"
        view.refresh_value()

    def _fields(self, secret: Secret) -> Text:
        text = Text()
        rows = [
            ("name", secret.name),
            ("scope", "site" if secret.app is None else f"app {secret.app}"),
            ("type", secret.type or "none"),
            ("description", secret.description or "—"),
            ("version", str(secret.version)),
        ]
        if secret.rotate_every_days:  # only with a policy: the pane has no line to spare
            rows.append(("rotation", _rotation(secret)))
        later = [
            ("created", f"{short_time(secret.created_at)} by {secret.created_by}"),
            ("updated", f"{short_time(secret.updated_at)} by {secret.updated_by}"),
            ("last used", short_time(secret.last_used_at)),
        ]
        for label, value in rows:
            text.append(f"\n{label:<12}", style="bold")
            text.append_text(safe_text(value, multiline=label == "description"))
        self._used_by(text, secret)  # in view with the version: who runs which one
        for label, value in later:
            text.append(f"\n{label:<12}", style="bold")
            text.append_text(safe_text(value))
        return text

    def _used_by(self, text: Text, secret: Secret) -> None:
        """One line per service bound to `secret`: the version it last loaded next to the current one."""
        text.append(f"\n{'used by':<12}", style="bold")
        loads = services_of(secret, self.services)
        known = {service.name for service, _ in loads}
        if not loads and not secret.used_by:
            text.append("no service")
        for index, (service, version) in enumerate(loads):
            if index:
                text.append("\n" + " " * 12)
            text.append_text(safe_text(service.name))
            # the colon keeps name and versions apart however the spaces are drawn (README SVGs)
            text.append(f": loaded {'v' + str(version) if version is not None else 'never'}"
                        f" · current v{secret.version}", style="dim")
            if version is not None and version != secret.version:
                text.append("  restart needed", style="bold black on yellow")
        others = [name for name in secret.used_by if name not in known]
        if others:  # services the last load did not include: listed by name only
            text.append(("\n" + " " * 12) if loads else "")
            text.append_text(safe_text(", ".join(others)))


def _rotation(secret: Secret) -> str:
    due = f" · due {short_time(secret.rotation_due_at)}" if secret.rotation_due_at else ""
    return f"every {secret.rotate_every_days} d{due} ({rotation_label(secret)})"
