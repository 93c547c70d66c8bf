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
