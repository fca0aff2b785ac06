"""Site Secrets server: the encrypted store and the v1 HTTP API as a WSGI application."""
