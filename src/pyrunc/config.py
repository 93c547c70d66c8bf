"""Turn a validated config into the init's plan (CLI process, pure data, serialisable)."""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc import OCI_VERSION, log, plan
from pyrunc.errors import Problem, refuse
from pyrunc.linux import caps, lsm, mountplan, namespaces, procattrs
from pyrunc.validate import RLIMITS


def dedup_env(env):
    """runc sets the environment one entry at a time: the first position, the last value."""
    out = {}
    for e in env:
        k, _, _ = e.partition("=")
        out[k] = e
    return list(out.values())


def capability_masks(capabilities):
    """caps.masks, warning about the names left out in runc's words (config.json and exec --cap)."""
    unknown = []
    m = caps.masks(capabilities, unknown)
    if unknown:
        names = " ".join(sorted({name for _s, name in unknown}))
        log.warning(f"ignoring unknown or unavailable capabilities: [{names}]")
    return m


def identity(p):
    """Who the process is: its ids, umask and capability sets (a part of its plan; `check` tests it too)."""
    user = p.get("user", {})
    return {
        "uid": user.get("uid", 0),
        "gid": user.get("gid", 0),
        "groups": list(dict.fromkeys(user.get("additionalGids", []))),   # once each, as runc's set of them
        "umask": user.get("umask", 0o022),
        # like runc: no capabilities object means no capabilities at all
        "caps": capability_masks(p.get("capabilities", {})),
    }


def process_plan(p, memory_policy=None):
    """The process part of a plan, shared by create and exec (memory_policy: the container's
    linux.memoryPolicy, which its exec'd processes get too)."""
    cs = p.get("consoleSize")
    return {
        "args": p["args"],
        "env": dedup_env(p.get("env", [])),
        "cwd": p.get("cwd", "/"),
        "terminal": p.get("terminal", False),
        "console_size": [cs.get("height", 0), cs.get("width", 0)] if cs else None,
        **identity(p),
        "nnp": p.get("noNewPrivileges", False),
        "rlimits": [[RLIMITS[r["type"]], r.get("soft", 0), r.get("hard", 0)] for r in p.get("rlimits", ())],
        "attrs": procattrs.plan(p, memory_policy),
        "cpus_initial": (procattrs.cpu_list(p["execCPUAffinity"]["initial"])
                         if p.get("execCPUAffinity", {}).get("initial") else None),
        "apparmor_profile": p.get("apparmorProfile", ""),
        "selinux_label": p.get("selinuxLabel", ""),
    }


def time_offsets(offsets):
    return "".join(f"{clock} {o.get('secs', 0)} {o.get('nanosecs', 0)}\n" for clock, o in offsets.items())


def cgroup_mounts(layout, manager, ns_plan):
    """What /sys/fs/cgroup inside the container is made of: one entry per hierarchy."""
    mode, hierarchies = layout
    out = []
    for key, mountpoint, _root, _own in hierarchies:
        name = oslite.path.basename(mountpoint) or "unified"
        ctrls = key.split(",") if key else []
        opts = ",".join(ctrls)
        if ctrls and all(c.startswith("name=") for c in ctrls):
            opts = "none," + opts
        out.append({"name": name, "dir": manager.dirs.get(key, mountpoint), "v2": key == "",
                    "options": opts,
                    "links": [c for c in ctrls if c != name and not c.startswith("name=")]})
    return {"mode": mode, "cgroupns": namespaces.has(ns_plan, "cgroup"), "hierarchies": out}


def filesystem(doc, bundle, problems, mount_label=""):
    """The mounts, /dev and rootfs propagation of the plan (mountplan); what cannot be planned goes to problems.

    mount_label: SELinux's, put into the data of the mounts runc labels."""
    linux = doc.get("linux", {})
    mounts = [mountplan.plan_mount(m, i, bundle, problems) for i, m in enumerate(doc.get("mounts", ()))]
    mounts = [m for m in mounts if m is not None]
    for m in mounts:
        if lsm.labels_mount(m["kind"], m["type"]):
            m["data"] = lsm.mount_data(m["data"], mount_label)
    setup_dev = mountplan.needs_dev_setup(mounts)
    propagation = linux.get("rootfsPropagation", "")
    if propagation and propagation not in mountplan.PROPAGATION_OPTIONS:
        problems.append(Problem("/linux/rootfsPropagation", f"unknown propagation {propagation!r}"))
    return {"mounts": mounts, "dev_setup": setup_dev,
            "devices": mountplan.device_steps(linux.get("devices", []), setup_dev, problems),
            "rootfs_propagation": mountplan.PROPAGATION_OPTIONS.get(propagation, 0)}


def session_keyring(cid, no_new_keyring):
    """The session keyring the container's processes join, the init's and exec's (runc's name: the
    kernel refuses to join a keyring whose name starts with '.' (EPERM), and ".x" is a valid id)."""
    return None if no_new_keyring else f"_ses.{cid}"


def build(doc, bundle, cid, manager, layout, no_pivot=False, no_new_keyring=False):
    """The plan stage 1 and stage 2 execute for `create`."""
    linux = doc.get("linux", {})
    ns = namespaces.plan(linux.get("namespaces", []))
    ns["time_offsets"] = time_offsets(linux["timeOffsets"]) if linux.get("timeOffsets") else None
    problems = []
    label = lsm.mount_label(linux)
    fs = filesystem(doc, bundle, problems, label)
    refuse(problems, "config.json: ")
    mountplan.imply_idmaps(fs["mounts"], ns, linux.get("uidMappings", []), linux.get("gidMappings", []))
    rootfs = oslite.path.realpath(oslite.path.join(bundle, doc["root"]["path"]))
    hooks = doc.get("hooks", {})
    p = doc.get("process")
    return plan.new(
        "init",
        id=cid,
        ns=ns,
        uid_map=linux.get("uidMappings", []),
        gid_map=linux.get("gidMappings", []),
        cgroup_join=manager.join_files(),
        cgroup_mounts=cgroup_mounts(layout, manager, ns),
        oom_score_adj=p.get("oomScoreAdj") if p else None,
        rootfs=rootfs,
        root_readonly=doc["root"].get("readonly", False),
        **fs,
        extra_dev_links=[["/proc/kcore", "/dev/core"]] if oslite.path.exists("/proc/kcore") else [],
        masked_paths=[mountplan.clean(x) for x in linux.get("maskedPaths", ())],
        readonly_paths=[mountplan.clean(x) for x in linux.get("readonlyPaths", ())],
        no_pivot=no_pivot,
        hostname=doc.get("hostname") or None,      # "": the caller's, copied by CLONE_NEWUTS (runc's)
        domainname=doc.get("domainname") or None,
        sysctl=linux.get("sysctl", {}),
        personality=procattrs.personality_value(linux["personality"]) if "personality" in linux else None,
        keyring=session_keyring(cid, no_new_keyring),
        mount_label=label,
        runtime_hooks=[k for k in ("prestart", "createRuntime") if hooks.get(k)],
        runtime_setup=bool(linux.get("netDevices")) or any(hooks.get(k) for k in ("prestart", "createRuntime")),
        hooks={k: hooks[k] for k in ("createContainer", "startContainer") if hooks.get(k)},
        hook_state={"ociVersion": OCI_VERSION, "id": cid, "pid": 0, "bundle": bundle,
                    "annotations": doc.get("annotations", {})},
        process=process_plan(p, linux.get("memoryPolicy")) if p else None,
        fds=plan.fds("init"))
