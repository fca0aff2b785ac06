"""The Site Secrets contract: every request, response and error of the v1 HTTP API.

Both halves import this package: `server` to parse requests and shape answers, `tui` to build
requests and validate answers. It holds no I/O and imports neither half.
"""

__version__ = "0.1.0"
API_PREFIX = "/v1"
