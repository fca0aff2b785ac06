"""Key bindings by one convention: a binding's id is `<where>.<name>`, the id users remap the key
by, and the keys several panes or forms share are named once here."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class Key:
    keys: str
    action: str
    description: str
    name: str = ""
    """The id's second part; the action's name when empty."""
    show: bool = True
    """False keeps the key out of the footer and the palette."""


NEW = Key("n", "new", "New")
EDIT = Key("e", "edit", "Edit")
DELETE = Key("d", "delete", "Delete")
REFRESH = Key("r", "refresh", "Refresh")
FILTER = Key("slash", "filter", "Filter")
CLEAR_FILTER = Key("escape", "clear_filter", "Clear filter", show=False)
SAVE = Key("ctrl+s", "save", "Save")
CANCEL = Key("escape", "cancel", "Cancel")


def bindings(where: str, *keys: Key) -> list[Binding]:
    """`keys` as Textual bindings, with ids `<where>.<name>`."""
    return [Binding(key.keys, key.action, key.description, show=key.show, id=f"{where}.{key.name or key.action}")
            for key in keys]
