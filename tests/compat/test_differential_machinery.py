"""The comparison and the allow-list of the differential test, on answers
made up here (no server): what counts as a difference, and when an
allow-list entry covers one or has become stale."""

from __future__ import annotations

import pytest

from differential import Allowed, Answer, Difference, Step, compare, expand, load_allowlist, shape_differences, substitute


def test_same_shape_with_other_values_is_no_difference():
    a = {"data": {"id": "x", "ttl": 1, "keys": ["a", "b"], "meta": None, "ok": True}}
    b = {"data": {"id": "yy", "ttl": 99.5, "keys": ["c"], "meta": None, "ok": False}}
    assert shape_differences(a, b, "") == []


def test_missing_extra_and_retyped_fields_are_located():
    a = {"data": {"id": "x", "only_bao": 1, "n": 1, "nested": {"k": []}}}
    b = {"data": {"id": "x", "only_vr": 1, "n": "1", "nested": {"k": {}}}}
    assert shape_differences(a, b, "") == [
        ("data.n", "number", "string"),
        ("data.nested.k", "array", "object"),
        ("data.only_bao", "number", "absent"),
        ("data.only_vr", "absent", "number"),
    ]


def test_arrays_compare_element_types_and_first_element_shape():
    assert shape_differences({"k": [1]}, {"k": ["1"]}, "") == [("k[]", "number", "string")]
    assert shape_differences({"k": [{"a": 1}]}, {"k": [{"b": 1}]}, "") == [
        ("k[].a", "number", "absent"),
        ("k[].b", "absent", "number"),
    ]
    # An empty array says nothing about element types.
    assert shape_differences({"k": []}, {"k": [1]}, "") == []


def test_empty_errors_matter_only_on_404():
    assert shape_differences({"errors": []}, {"errors": ["x"]}, "", 404) == [("errors", "empty", "non-empty")]
    assert shape_differences({"errors": []}, {"errors": ["x"]}, "", 400) == []


def test_status_difference_hides_body_differences():
    step = Step("s", "GET", "p")
    d = compare(step, Answer(404, "application/json", {"errors": []}, '{"errors":[]}'), Answer(200, "application/json", {"data": {}}, "{}"))
    assert [(x.step, x.at) for x in d] == [("s", "status")]


def test_error_content_type_is_compared():
    step = Step("s", "GET", "p")
    d = compare(step, Answer(400, "text/plain", None, "x"), Answer(400, "application/json", None, "x"))
    assert [(x.at, x.bao, x.vault_rs) for x in d] == [("content-type", "text/plain", "application/json")]


def test_placeholders_are_filled_per_server():
    saved = {"tok": "hvs.1", "keys": ["a"]}
    assert substitute({"token": "${tok}", "list": "${keys}", "s": "x-${tok}"}, saved) == {
        "token": "hvs.1",
        "list": ["a"],
        "s": "x-hvs.1",
    }
    assert substitute("${nope}", saved) == "<unset nope>"


def test_allowlist_patterns_and_stale_locations():
    assert expand("{a,b}.{c,d}") == ["a.c", "a.d", "b.c", "b.d"]
    entry = Allowed("kv2.{read,write}*", ["data.x", "status"], "why", "server")
    diffs = [Difference("kv2.read.missing", "data.x", "string", "absent")]
    assert entry.matches(diffs[0])
    assert not entry.matches(Difference("kv1.read", "data.x", "string", "absent"))
    assert not entry.matches(Difference("kv2.read", "data.y", "string", "absent"))
    # "status" no longer differs anywhere: the entry says so.
    assert entry.unused_locations(diffs) == ["status"]


def test_allowlist_entries_need_a_reason_and_a_kind_of_fix(tmp_path):
    path = tmp_path / "list.toml"
    path.write_text('[[difference]]\nstep = "a"\nat = "status"\nfix = "server"\n')
    with pytest.raises(AssertionError, match="reason"):
        load_allowlist(path)
    path.write_text('[[difference]]\nstep = "a"\nat = "status"\nfix = "maybe"\nreason = "r"\n')
    with pytest.raises(AssertionError, match="fix must be"):
        load_allowlist(path)
    path.write_text('[[difference]]\nstep = "a"\nat = ["status", "data"]\nfix = "deliberate"\nreason = "r"\n\n[[cli]]\ncommand = "x y"\nreason = "r"\n')
    allowed, cli = load_allowlist(path)
    assert allowed[0].at == ["status", "data"] and cli[0].command == "x y"


def test_named_values_must_agree_and_lists_of_scalars_are_sets():
    step = Step("s", "GET", "p", values=["data.keys", "lease_duration", "data.gone"])
    bao = Answer(200, "application/json", {"data": {"keys": ["a", "b"]}, "lease_duration": 3600}, "")
    same = Answer(200, "application/json", {"data": {"keys": ["b", "a"]}, "lease_duration": 3600}, "")
    other = Answer(200, "application/json", {"data": {"keys": ["a"]}, "lease_duration": 0}, "")
    assert compare(step, bao, same) == []
    assert [(d.at, d.bao, d.vault_rs) for d in compare(step, bao, other)] == [
        ("value data.keys", '["a", "b"]', '["a"]'),
        ("value lease_duration", "3600", "0"),
    ]
