"""linux.netDevices (CLI process): move host interfaces into the container's network namespace.

pyroute2 is imported here only, and only when a config asks for devices (it
costs ~150 ms to import).  Like runc and youki, a device keeps its global
addresses: they are read before the move and added again inside, since the
kernel drops them when an interface changes namespace.
"""
from pyrunc import oslite  # posix without os.py: see oslite

from pyrunc.errors import Error
from pyrunc.linux import syscalls as S


def move(devices, init_pid):
    """devices: {host name: {"name": name inside (optional)}}; the init's netns receives them."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
    host = IPRoute()
    try:
        moved = []
        for host_name, spec in devices.items():
            new_name = spec.get("name") or host_name
            idx = host.link_lookup(ifname=host_name)
            if not idx:
                raise Error(f"network device {host_name} does not exist")
            addrs = [(a["family"], a.get_attr("IFA_ADDRESS"), a["prefixlen"])
                     for a in host.get_addr(index=idx[0]) if a["scope"] == 0]
            try:
                # one request: the kernel moves and renames atomically
                host.link("set", index=idx[0], net_ns_pid=init_pid, ifname=new_name)
            except NetlinkError as e:
                raise Error(f"moving network device {host_name}: {oslite.strerror(e.code)}") from None
            moved.append((new_name, addrs))
    finally:
        host.close()
    inside = _ipr_in(init_pid, IPRoute)
    try:
        for name, addrs in moved:
            idx = inside.link_lookup(ifname=name)[0]
            for family, address, prefixlen in addrs:
                inside.addr("add", index=idx, address=address, prefixlen=prefixlen, family=family)
    finally:
        inside.close()


def _ipr_in(pid, ipr_class):
    """A netlink socket created inside pid's network namespace (sockets stay where they were born)."""
    own = oslite.open("/proc/self/ns/net", oslite.O_RDONLY | oslite.O_CLOEXEC)
    target = oslite.open(f"/proc/{pid}/ns/net", oslite.O_RDONLY | oslite.O_CLOEXEC)
    try:
        S.setns(target, S.CLONE_NEWNET)
        try:
            return ipr_class()
        finally:
            S.setns(own, S.CLONE_NEWNET)
    finally:
        oslite.close(own)
        oslite.close(target)
