"""Widgets of the Site Secrets TUI."""
