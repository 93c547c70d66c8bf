"""validate.py: semantic checks, all reported at once."""
from pyrunc import spec, validate


def problems(patch, tmp_path):
    (tmp_path / "rootfs").mkdir(exist_ok=True)
    doc = spec.example()
    doc["process"]["terminal"] = False
    for path, value in patch.items():
        cur = doc
        keys = path.split("/")
        for k in keys[:-1]:
            cur = cur.setdefault(k, {})
        if value is None:
            cur.pop(keys[-1], None)
        else:
            cur[keys[-1]] = value
    return validate.check(doc, str(tmp_path))


def test_example_is_valid(tmp_path):
    assert problems({}, tmp_path) == []


def test_many_problems_at_once(tmp_path):
    p = problems({"process/args": [], "process/cwd": "rel", "process/env": ["NOEQUALS"],
                  "process/capabilities": {"bounding": ["CAP_TEST"]},
                  "process/rlimits": [{"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1},
                                      {"type": "RLIMIT_NOFILE", "soft": 5, "hard": 1}]}, tmp_path)
    text = "\n".join(p)
    assert "/process/args: must not be empty" in text
    assert "/process/cwd: Cwd must be an absolute path" in text
    assert '/process/env/0: invalid environment variable: "NOEQUALS"' in text
    assert "CAP_TEST" not in text     # runc warns about unknown capabilities and goes on
    assert "/process/rlimits/0/type: wrong rlimit value: RLIMIT_BOGUS" in text
    assert "soft limit 5 above hard limit 1" in text


def test_user_namespace_needs_mappings(tmp_path):
    p = problems({"linux/namespaces": [{"type": "user"}, {"type": "mount"}]}, tmp_path)
    assert any("needs uidMappings and gidMappings" in x for x in p)


def test_mappings_need_a_user_namespace(tmp_path):
    p = problems({"linux/uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}, tmp_path)
    assert any("without a user namespace" in x for x in p)


def test_kernel_hostname_sysctl_conflicts_with_the_hostname_field(tmp_path):
    p = problems({"linux/sysctl": {"kernel.hostname": "x", "kernel/domainname": "y"}}, tmp_path)
    assert p == ['/linux/sysctl/kernel.hostname: sysctl "kernel.hostname" is not allowed as it conflicts '
                 'with the OCI "hostname" field']


def test_hostname_needs_uts(tmp_path):
    p = problems({"linux/namespaces": [{"type": "mount"}]}, tmp_path)
    assert any("without a private UTS namespace" in x for x in p)


def test_sysctl_namespaces(tmp_path):
    p = problems({"linux/sysctl": {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1", "vm.swappiness": "1",
                                   "fs/mqueue/msg_max": "1"},
                  "linux/namespaces": [{"type": "mount"}, {"type": "uts"}], "hostname": None}, tmp_path)
    # runc's words
    assert p == ['/linux/sysctl/net.ipv4.ip_forward: sysctl "net.ipv4.ip_forward" not allowed in host network namespace',
                 '/linux/sysctl/kernel.shmmax: sysctl "kernel.shmmax" is not allowed in the hosts ipc namespace',
                 '/linux/sysctl/vm.swappiness: sysctl "vm.swappiness" is not in a separate kernel namespace',
                 '/linux/sysctl/fs/mqueue/msg_max: sysctl "fs.mqueue.msg_max" is not allowed in the hosts ipc namespace']


def test_empty_cwd_in_runcs_words(tmp_path):
    assert problems({"process/cwd": ""}, tmp_path) == ["/process/cwd: Cwd property must not be empty"]


def test_missing_rootfs(tmp_path):
    doc = spec.example()
    assert any("does not exist" in x for x in validate.check(doc, str(tmp_path / "nowhere")))


def test_hook_paths_and_timeouts(tmp_path):
    p = problems({"hooks": {"prestart": [{"path": "rel"}, {"path": "/bin/true", "timeout": 0}]}}, tmp_path)
    text = "\n".join(p)
    assert "/hooks/prestart/0/path" in text and "/hooks/prestart/1/timeout" in text


def test_masked_and_readonly_paths_need_a_mount_namespace(tmp_path):
    nss = [{"type": "pid"}]
    p = problems({"linux/namespaces": nss, "hostname": None}, tmp_path)
    text = "\n".join(p)
    assert "/linux/maskedPaths: unable to restrict paths without a private mount namespace" in text
    assert "/linux/readonlyPaths: unable to restrict paths without a private mount namespace" in text
    p = problems({"linux/namespaces": nss, "hostname": None, "linux/maskedPaths": [], "linux/readonlyPaths": []},
                 tmp_path)
    assert p == []
    p = problems({"linux/namespaces": nss + [{"type": "mount", "path": "/proc/1/ns/mnt"}], "hostname": None},
                 tmp_path)
    assert p == []


def test_intel_rdt_without_resctrl_is_runcs(tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "resctrl_mounted", lambda: False)
    assert problems({"linux/intelRdt": {"closID": "gold"}}, tmp_path) == []    # no class to join: runc's
    assert problems({"linux/intelRdt": {"closID": ".."}}, tmp_path) == ['/linux/intelRdt/closID: invalid '
                                                                        'intelRdt.ClosID ".."']
    p = problems({"linux/intelRdt": {"l3CacheSchema": "L3:0=f", "memBwSchema": "MB:0=20",
                                     "schemata": ["L3:0=f"]}}, tmp_path)
    assert p == ["/linux/intelRdt/l3CacheSchema: intelRdt.l3CacheSchema is specified in config, but Intel "
                 "RDT/CAT is not enabled",
                 "/linux/intelRdt/memBwSchema: intelRdt.memBwSchema is specified in config, but Intel "
                 "RDT/MBA is not enabled",
                 "/linux/intelRdt/schemata: intelRdt.schemata is specified in config, but Intel RDT is not enabled"]


def test_intel_rdt_with_resctrl_is_refused_not_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(validate, "resctrl_mounted", lambda: True)
    assert problems({"linux/intelRdt": {"closID": "gold", "enableMonitoring": True}}, tmp_path) == [
        "/linux/intelRdt: pyrunc does not apply Intel RDT settings (closID, enableMonitoring)"]
    assert problems({"linux/intelRdt": {}}, tmp_path) == []


def test_memory_policy_modes_flags_and_nodes(tmp_path):
    assert problems({"linux/memoryPolicy": {"mode": "MPOL_BIND", "nodes": "0-1,3",
                                            "flags": ["MPOL_F_STATIC_NODES"]}}, tmp_path) == []
    assert problems({"linux/memoryPolicy": {"mode": "MPOL_LOCAL"}}, tmp_path) == []
    p = problems({"linux/memoryPolicy": {"mode": "MPOL_FAST", "flags": ["MPOL_F_SOON"], "nodes": "1-0"}}, tmp_path)
    assert p == ["/linux/memoryPolicy/mode: unknown memory policy mode 'MPOL_FAST'",
                 "/linux/memoryPolicy/flags: unknown memory policy flag 'MPOL_F_SOON'",
                 "/linux/memoryPolicy/nodes: invalid node list '1-0'"]
    assert problems({"linux/memoryPolicy": {"mode": "MPOL_DEFAULT", "nodes": "0"}}, tmp_path) == [
        "/linux/memoryPolicy/nodes: MPOL_DEFAULT takes no nodes"]
    assert problems({"linux/memoryPolicy": {"mode": "MPOL_INTERLEAVE"}}, tmp_path) == [
        "/linux/memoryPolicy/nodes: MPOL_INTERLEAVE needs at least one node"]


def test_memory_policy_plan_is_set_mempolicy_numbers():
    from pyrunc.linux import procattrs
    mp = {"mode": "MPOL_INTERLEAVE", "nodes": "0,2-3", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_NUMA_BALANCING"]}
    assert procattrs.plan({}, mp)["mempolicy"] == [3 | 1 << 15 | 1 << 13, 0, 2, 3]
    assert procattrs.plan({}, {"mode": "MPOL_LOCAL"})["mempolicy"] == [4]
    assert procattrs.plan({})["mempolicy"] is None
