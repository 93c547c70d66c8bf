"""spec.py: strict typed loading; errors name JSON pointers; null means absent."""
import pytest

from pyrunc import spec
from pyrunc.errors import BadConfig


def test_valid_example_loads():
    import json
    doc = spec.parse(json.dumps(spec.example()))
    assert doc["process"]["args"] == ["sh"]


def test_every_type_error_is_reported_with_its_pointer():
    with pytest.raises(BadConfig) as e:
        spec.parse('{"process": {"args": "sh", "user": {"uid": 1.5}}, "hostname": true,'
                   ' "annotations": {"a/b": 1}, "linux": {"namespaces": [{"type": 3}]}}')
    msg = str(e.value)
    assert "/process/args: expected array, got string" in msg
    assert "/process/user/uid: expected integer, got number 1.5" in msg
    assert "/hostname: expected string, got boolean" in msg
    assert "/annotations/a~1b: expected string, got number" in msg
    assert "/linux/namespaces/0/type: expected string, got number" in msg


def test_null_means_absent_and_unknown_keys_are_ignored():
    doc = spec.parse('{"process": {"args": ["x"], "env": null}, "x-vendor": {"anything": [1]}}')
    assert "env" not in doc["process"]


def test_integer_ranges():
    with pytest.raises(BadConfig, match="out of range for u32"):
        spec.parse('{"process": {"user": {"uid": 4294967296}}}')
    spec.parse('{"process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 18446744073709551615,'
               ' "hard": 18446744073709551615}]}}')


def test_malformed_json_has_position():
    with pytest.raises(BadConfig, match=r"invalid JSON: .*line 2 column"):
        spec.parse('{\n  "a": }')


def test_rootless_example_maps_the_caller():
    c = spec.example(rootless=True)
    types = [n["type"] for n in c["linux"]["namespaces"]]
    assert "user" in types and "network" not in types
    assert c["linux"]["uidMappings"][0]["size"] == 1
    assert "resources" not in c["linux"]


@pytest.mark.parametrize("doc,expect", [
    ('{"mounts": [{"destination": "/tmp\\u0000/x"}]}', "config.json: /mounts/0/destination: contains a NUL byte"),
    ('{"hostname": "a\\u0000"}', "config.json: /hostname: contains a NUL byte"),
    ('{"annotations": {"a\\u0000b": "v"}}', r"config.json: /annotations: key 'a\x00b' contains a NUL byte"),
    ('{"x-vendor": [{"deep": "\\u0000"}]}', "config.json: /x-vendor/0/deep: contains a NUL byte"),
    ('{"process": {"cwd": "/\\ud800"}}', r"config.json: /process/cwd: contains a lone surrogate (\ud800), which is not text"),
    ('{"a\\udfff": 1}', r"config.json: /: key 'a\udfff' contains a lone surrogate (\udfff), which is not text"),
])
def test_strings_the_kernel_would_cut_or_cannot_encode_are_refused(doc, expect):
    """Every string, known to the schema or not, keys too: NUL and lone surrogates name their pointer."""
    with pytest.raises(BadConfig) as e:
        spec.parse(doc)
    assert str(e.value) == expect


def test_valid_unicode_passes():
    assert spec.parse('{"hostname": "h\\u00e9\\ud83d\\ude00"}')["hostname"] == "hé\U0001F600"


def nested(levels, leaf="1"):
    return '{"process": {"x": ' + '{"k": ' * (levels - 2) + leaf + "}" * (levels - 2) + "}}"


def test_nesting_is_bounded_at_parse():
    spec.parse(nested(spec.MAX_DEPTH))
    with pytest.raises(BadConfig) as e:
        spec.parse(nested(spec.MAX_DEPTH + 1, "{}"))
    assert str(e.value) == ("config.json: /process/x" + "/k" * (spec.MAX_DEPTH - 2) +
                            f": nested more than {spec.MAX_DEPTH} levels deep")
    with pytest.raises(BadConfig, match=r"^process\.json: /0/0/.*: nested more than"):
        spec.parse("[" * 900 + "]" * 900, "process.json", spec.PROCESS)


def test_nesting_check_never_recurses():
    """A document as deep as the C scanner allows, checked from deep in the stack: an error, no RecursionError."""
    import sys

    def at_depth(n):
        return at_depth(n - 1) if n else spec.parse("[" * 100000 + "]" * 100000)
    for depth in (0, sys.getrecursionlimit() - 50):
        with pytest.raises(BadConfig, match="nested"):
            at_depth(depth)


def test_a_key_with_control_characters_is_named_on_one_line():
    with pytest.raises(BadConfig) as e:
        spec.parse('{"ociVersion": {"a\\nb": 1}}')
    assert "\n" not in str(e.value) and "/ociVersion" in str(e.value)
    assert spec.pointer("", "a\nb\x00") == "/a\\nb\\x00"
