"""Starting points for new secret types: JSON Schemas for common kinds of credentials."""

from __future__ import annotations

from typing import Any

TEMPLATES: dict[str, dict[str, Any]] = {
    "Database credentials": {
        "type": "object",
        "required": ["host", "user", "password", "database"],
        "properties": {
            "host": {"type": "string"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "user": {"type": "string"},
            "password": {"type": "string", "writeOnly": True},
            "database": {"type": "string"},
            "engine": {"enum": ["postgresql", "mysql", "mariadb", "sqlite"]},
        },
        "additionalProperties": False,
    },
    "API key": {
        "type": "object",
        "required": ["key"],
        "properties": {
            "key": {"type": "string", "format": "password"},
            "base_url": {"type": "string", "format": "uri"},
        },
        "additionalProperties": False,
    },
    "OAuth client": {
        "type": "object",
        "required": ["client_id", "client_secret"],
        "properties": {
            "client_id": {"type": "string"},
            "client_secret": {"type": "string", "writeOnly": True},
            "token_url": {"type": "string", "format": "uri"},
            "scopes": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "SMTP server": {
        "type": "object",
        "required": ["host", "port", "username", "password"],
        "properties": {
            "host": {"type": "string"},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535},
            "username": {"type": "string"},
            "password": {"type": "string", "writeOnly": True},
            "starttls": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
}
