"""Modal dialogs of the Site Secrets TUI, one per module."""
