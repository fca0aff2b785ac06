"""Site Secrets client half: the API client, the Textual app and the command line."""
