"""plan.py: the plan's one typed definition, its constructors, and every key the stages read declared in it."""
import ast
import os

import pytest

from pyrunc import config, plan, spec
from pyrunc.cgroups.null import NullManager

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "src", "pyrunc")


def _merge(a, b):
    """The union of two dict schemas (a variable named `plan` holds either kind)."""
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(out.get(k), dict) and isinstance(v, dict) else out.get(k, v)
    return out


ANY_PLAN = _merge(plan.INIT, plan.EXEC)
# what the stages call the parts of a plan
ROOTS = {"plan": ANY_PLAN, "proc_plan": ANY_PLAN, "p": plan.PROCESS, "m": plan.MOUNT, "d": plan.DEVICE,
         "hs": plan.HOOK_STATE, "attrs": plan.PROCESS["attrs"], "ns": ANY_PLAN["ns"], "h": plan.HIERARCHY,
         "cg": plan.INIT["cgroup_mounts"], "masks": plan.CAPS}
STAGE_MODULES = ["process/bootstrap.py", "process/entry.py", "process/execstage.py", "process/init.py",
                 "process/program.py", "linux/rootfs.py", "linux/seccomp.py", "linux/creds.py",
                 "linux/final.py", "linux/procattrs.py", "linux/mountsrc.py"]


def _unwrap(schema):
    while isinstance(schema, tuple) and schema[0] == "opt":
        schema = schema[1]
    return schema


def _keys_read(tree):
    """(line, root name, [keys]) for each chain like plan["fds"]["init"] or m.get("source")."""
    for node in ast.walk(tree):
        keys = []
        cur = node
        while True:
            if isinstance(cur, ast.Subscript) and isinstance(cur.slice, ast.Constant) and isinstance(cur.slice.value, str):
                keys.insert(0, cur.slice.value)
                cur = cur.value
            elif (isinstance(cur, ast.Call) and isinstance(cur.func, ast.Attribute) and cur.func.attr == "get"
                  and cur.args and isinstance(cur.args[0], ast.Constant) and isinstance(cur.args[0].value, str)):
                keys.insert(0, cur.args[0].value)
                cur = cur.func.value
            else:
                break
        if keys and isinstance(cur, ast.Name) and cur.id in ROOTS:
            yield node.lineno, cur.id, keys


def test_every_key_the_stages_read_is_declared():
    problems = []
    for rel in STAGE_MODULES:
        with open(os.path.join(SRC, rel)) as f:
            tree = ast.parse(f.read())
        for line, root, keys in _keys_read(tree):
            schema = ROOTS[root]
            for k in keys:
                schema = _unwrap(schema)
                if not isinstance(schema, dict):
                    break
                if k not in schema:
                    problems.append(f"{rel}:{line}: {root}[{']['.join(keys)}]: {k!r} is not in plan.py")
                    break
                schema = schema[k]
    assert not problems, problems


def test_the_init_constructor_builds_a_plan_of_its_type(tmp_path):
    doc = spec.example()
    doc["mounts"].append({"destination": "/data", "type": "bind", "source": str(tmp_path), "options": ["rbind", "ro"]})
    p = config.build(doc, str(tmp_path), "c1", NullManager({}), ("none", []))
    plan.check(p)
    assert plan.fd_slots(p) == {}
    p["fds"]["fifo"], p["mounts"][-1]["userns_fd"] = 7, 9
    assert plan.fd_slots(p) == {"fds/fifo": 7, "mounts/7/userns_fd": 9}


def test_a_misspelt_or_missing_field_is_caught_before_the_plan_leaves():
    with pytest.raises(TypeError, match="unknown fields \\['procss'\\]"):
        plan.new("exec", procss=None)
    p = config.build(spec.example(), "/b", "c1", NullManager({}), ("none", []))
    p["fds"]["fifoo"] = 3
    with pytest.raises(Exception, match="/fds/fifoo: not a field"):
        plan.check(p)
    del p["fds"]["fifoo"]
    p["process"]["uid"] = "0"
    with pytest.raises(Exception, match="/process/uid: not int"):
        plan.check(p)
