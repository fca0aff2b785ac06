"""Full screens of the Site Secrets TUI."""
