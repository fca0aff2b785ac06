"""RFC 7396 JSON Merge Patch: how `PATCH {scope}/secrets/{name}` with `value_patch` changes part
of a typed value without the client revealing or resending the rest.

The rules, as the RFC's section 2 states them: a patch that is an object changes the target
member by member (`null` removes a member, an object merges into the member, anything else,
arrays included, replaces it); a patch that is not an object replaces the whole target.
"""

from __future__ import annotations

from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """`target` with `patch` applied; neither argument is changed.

    Recursion follows the patch's nesting only, which the request parser has already bounded."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
