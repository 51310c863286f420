"""The `{{ … }}` mini-templates and the metadata merge (INVENTORY §7.1, §7.4)."""

from __future__ import annotations

from conversations.templating import eval_template_value, merge_metadata, render_template, resolve_path

CTX = {
    "meta": {"firstName": "Ana", "user": {"city": "Pune"}, "vip": True, "n": 5},
    "args": {"user_id": "u_1"},
    "params": {"q": "x"},
    "response": {"data": {"items": [{"id": 7}, {"id": 8}]}},
}


def test_it_renders_dot_paths_from_the_metadata():
    assert render_template("Hi {{.firstName}} from {{ .user.city }}", CTX) == "Hi Ana from Pune"


def test_it_renders_named_roots_and_list_indexes():
    text = "{{meta.firstName}} {{args.user_id}} {{params.q}} {{response.data.items[1].id}}"
    assert render_template(text, CTX) == "Ana u_1 x 8"


def test_it_renders_missing_values_and_unknown_roots_as_empty():
    assert render_template("[{{.nope}}][{{other.x}}][{{response.data.items[9].id}}][{{foo bar}}]", CTX) == "[][][][]"


def test_it_renders_non_strings_as_json():
    assert render_template("{{.vip}} {{.n}} {{.user}}", CTX) == 'true 5 {"city": "Pune"}'


def test_it_renders_the_whole_metadata_for_a_bare_dot():
    assert render_template("{{.}}", {"meta": {"a": 1}}) == '{"a": 1}'


def test_it_leaves_text_without_placeholders_and_empty_braces_alone():
    assert render_template("plain {text}", CTX) == "plain {text}"
    assert render_template("a {{}} b", CTX) == "a {{}} b"


def test_it_resolves_dot_paths_in_the_root_when_there_is_no_meta():
    assert render_template("{{.a.b}}", {"a": {"b": "c"}}) == "c"


def test_it_indexes_lists_with_dot_numbers_and_brackets():
    assert resolve_path({"items": [1, 2]}, "items.0") == 1
    assert resolve_path({"items": [1, 2]}, "items[1]") == 2
    assert resolve_path({"items": {"0": "key"}}, "items.0") == "key"  # on an object, a key
    assert resolve_path({"items": [1, 2]}, "items.5") is None


def test_a_single_placeholder_evaluates_to_the_raw_value():
    assert eval_template_value("{{response.data.items}}", CTX) == [{"id": 7}, {"id": 8}]
    assert eval_template_value(" {{response.data.items[0].id}} ", CTX) == 7
    assert eval_template_value("{{.missing}}", CTX) is None
    assert eval_template_value("id-{{response.data.items[0].id}}", CTX) == "id-7"
    assert eval_template_value("", CTX) is None


def test_merge_nests_dotted_keys_and_keeps_other_keys():
    merged = merge_metadata({"a": 1, "user": {"name": "Ana"}}, {"user.city": "Pune", "b": 2})
    assert merged == {"a": 1, "b": 2, "user": {"name": "Ana", "city": "Pune"}}


def test_merge_overwrites_a_non_dict_intermediate_and_skips_empty_segments():
    assert merge_metadata({"user": "x"}, {"user..id": 3}) == {"user": {"id": 3}}


def test_merge_stores_keys_with_leading_or_trailing_dots_as_is():
    assert merge_metadata({}, {".x": 1, "y.": 2}) == {".x": 1, "y.": 2}


def test_merge_replaces_leaves_without_deep_merging_and_never_mutates_its_input():
    original = {"user": {"address": {"city": "Pune"}}}
    merged = merge_metadata(original, {"user.address": {"zip": "1"}})
    assert merged == {"user": {"address": {"zip": "1"}}}
    assert original == {"user": {"address": {"city": "Pune"}}}
