"""The Textual UI: the App (`app.py`), its screens, widgets and one modal per file in `dialogs/`.

Everything here may import Textual; nothing outside it does (tests/test_import_hygiene.py). The
client, the data layer (`tui.sitedata`), the command line and `run` live beside it in `tui/`.
"""
