"""RFC 7396 JSON Merge Patch, with the RFC's own examples (appendix A) and the cases a typed value meets."""

from __future__ import annotations

import pytest

from server.mergepatch import merge_patch

RFC_APPENDIX_A = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC_APPENDIX_A)
def test_merge_patch_gives_the_rfc_examples_results(target, patch, expected) -> None:
    assert merge_patch(target, patch) == expected


def test_a_member_set_to_null_is_removed() -> None:
    assert merge_patch({"user": "u", "password": "p"}, {"password": None}) == {"user": "u"}


def test_removing_an_absent_member_changes_nothing() -> None:
    assert merge_patch({"user": "u"}, {"password": None}) == {"user": "u"}


def test_nested_objects_merge_member_by_member() -> None:
    target = {"db": {"host": "h", "port": 5432, "auth": {"user": "u", "password": "old"}}}
    patched = merge_patch(target, {"db": {"auth": {"password": "new"}}})
    assert patched == {"db": {"host": "h", "port": 5432, "auth": {"user": "u", "password": "new"}}}


def test_an_array_is_replaced_whole_never_merged() -> None:
    assert merge_patch({"hosts": ["a", "b", "c"]}, {"hosts": ["d"]}) == {"hosts": ["d"]}


def test_the_target_is_not_changed_in_place() -> None:
    target = {"a": {"b": 1}}
    merge_patch(target, {"a": {"b": 2, "c": 3}})
    assert target == {"a": {"b": 1}}
