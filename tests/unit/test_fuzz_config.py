"""Property-based: any mutation of a valid config.json is either accepted or refused with Error, never a crash."""
import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pyrunc import config, spec, validate
from pyrunc.cgroups.null import NullManager
from pyrunc.errors import Error

BASE = spec.example()
BASE["process"]["terminal"] = False

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(1 << 70), max_value=1 << 70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                      max_leaves=12)


def paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from paths(v, prefix + (i,))


ALL_PATHS = [p for p in paths(BASE) if p]


@st.composite
def mutated(draw):
    doc = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        path = draw(st.sampled_from(ALL_PATHS))
        cur = doc
        try:
            for k in path[:-1]:
                cur = cur[k]
            kind = draw(st.sampled_from(["replace", "delete", "add"]))
            if kind == "delete" and isinstance(cur, dict):
                cur.pop(path[-1], None)
            elif kind == "add" and isinstance(cur, dict):
                cur[draw(st.text(max_size=8))] = draw(values)
            else:
                cur[path[-1]] = draw(values)
        except (KeyError, IndexError, TypeError):
            pass
    return doc


def load_and_plan(text, tmp):
    """What create does with a config before touching the system."""
    doc = spec.parse(text)
    problems = validate.check(doc, tmp)
    if problems:
        raise Error("; ".join(problems))
    config.build(doc, tmp, "fuzz", NullManager({}), ("none", []))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutated())
def test_mutated_configs_never_crash(tmp_path, doc):
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    try:
        load_and_plan(json.dumps(doc), str(tmp_path))
    except Error as e:
        assert str(e) and "\n" not in str(e)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_crash(data):
    try:
        spec.parse(data)
    except Error as e:
        assert "\n" not in str(e)
