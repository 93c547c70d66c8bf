"""systemd's manager over D-Bus (CLI process, --systemd-cgroup only): transient units started and stopped, waited for.

The client is jeepney (pure Python, no threads), imported here and only
here: nothing without --systemd-cgroup loads this module.  The system bus
for root, the user's bus ($DBUS_SESSION_BUS_ADDRESS, else
$XDG_RUNTIME_DIR/bus, else `systemctl --user show-environment`) rootless,
as runc.  A job is waited for by its JobRemoved signal, which systemd
sends to the client that queued the job; the match is added before the
call, so that a job finishing before the reply is still seen.
"""
from pyrunc import oslite  # posix without os.py: see oslite
from pyrunc.errors import Error

DEST = "org.freedesktop.systemd1"
PATH = "/org/freedesktop/systemd1"
MANAGER = "org.freedesktop.systemd1.Manager"
JOB_TIMEOUT = 30.0         # runc's wait for a start or stop job
CONNECT_HINT = ("failed to connect to dbus (hint: for rootless containers, maybe you need to install "
                "dbus-user-session package, see https://github.com/opencontainers/runc/blob/master/docs/cgroup-v2.md)")


class BusError(Error):
    """An error reply: `name` is the D-Bus error name (org.freedesktop.systemd1.NoSuchUnit...)."""

    def __init__(self, name, text):
        super().__init__(text or name)
        self.name = name


def user_bus_address():
    """The rootless user's bus (runc's DetectUserDbusSessionBusAddress)."""
    env = oslite.startup_environ.get("DBUS_SESSION_BUS_ADDRESS")
    if env:
        return env
    xdg = oslite.startup_environ.get("XDG_RUNTIME_DIR")
    if xdg and oslite.path.exists(oslite.path.join(xdg, "bus")):
        return "unix:path=" + oslite.path.join(xdg, "bus")
    import subprocess
    try:
        p = subprocess.run(["systemctl", "--user", "--no-pager", "show-environment"],
                           capture_output=True, text=True)
        out, ok = p.stdout + p.stderr, p.returncode == 0
    except OSError as e:
        out, ok = str(e), False
    if not ok:
        raise Error(f"could not execute `systemctl --user --no-pager show-environment` (output={out!r})")
    for line in out.splitlines():
        if line.strip().startswith("DBUS_SESSION_BUS_ADDRESS="):
            return line.strip().partition("=")[2]
    raise Error("could not detect DBUS_SESSION_BUS_ADDRESS from `systemctl --user --no-pager show-environment`. "
                "Make sure you have installed the dbus-user-session or dbus-daemon package and then run: "
                "`systemctl --user start dbus`")


class Manager:
    """One connection to a systemd manager (the system's, or the rootless user's)."""

    def __init__(self, rootless=False):
        try:
            from jeepney.io.blocking import open_dbus_connection
        except ImportError:
            raise Error("--systemd-cgroup needs the jeepney D-Bus client (Debian: apt-get install "
                        "python3-jeepney)") from None
        addr = user_bus_address() if rootless else "SYSTEM"
        try:
            # jeepney's default (1 s) is too short for a bus daemon that socket activation is starting
            self.conn = open_dbus_connection(bus=addr, auth_timeout=JOB_TIMEOUT)
        except (OSError, ValueError) as e:
            raise Error(f"{CONNECT_HINT}: {e}") from None
        self._version = None

    def close(self):
        self.conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- calls -------------------------------------------------------------
    def call(self, method, signature="", *body, interface=MANAGER, path=PATH, timeout=JOB_TIMEOUT):
        """A method's reply body; an error reply is a BusError."""
        from jeepney import DBusAddress, MessageType, new_method_call
        msg = new_method_call(DBusAddress(path, bus_name=DEST, interface=interface), method, signature, body)
        try:
            reply = self.conn.send_and_get_reply(msg, timeout=timeout)
        except TimeoutError:
            raise Error(f"timed out after {timeout:g}s waiting for systemd to answer {method}") from None
        if reply.header.message_type == MessageType.error:
            from jeepney import HeaderFields
            name = reply.header.fields.get(HeaderFields.error_name, "")
            raise BusError(name, reply.body[0] if reply.body and isinstance(reply.body[0], str) else "")
        return reply.body

    def property(self, name):
        """A property of the manager (Version, ControlGroup...)."""
        return self.call("Get", "ss", MANAGER, name, interface="org.freedesktop.DBus.Properties")[0][1]

    def version(self):
        """systemd's version number (sdunit.version_number), asked once."""
        if self._version is None:
            from pyrunc.cgroups.sdunit import version_number
            self._version = version_number(self.property("Version"))
        return self._version

    def run_job(self, method, signature, *body):
        """Queue a job (StartTransientUnit, StopUnit) and wait for its JobRemoved: its result ("done"...)."""
        from jeepney import MatchRule
        from jeepney.bus_messages import message_bus
        # the bus resolves the well-known sender; the local filter sees systemd's unique name
        rule = dict(type="signal", interface=MANAGER, member="JobRemoved", path=PATH)
        self.conn.send_and_get_reply(message_bus.AddMatch(MatchRule(sender=DEST, **rule)), timeout=JOB_TIMEOUT)
        with self.conn.filter(MatchRule(**rule), bufsize=1024) as signals:
            job = self.call(method, signature, *body)[0]
            import time
            deadline = time.monotonic() + JOB_TIMEOUT
            while True:
                try:
                    sig = self.conn.recv_until_filtered(signals, timeout=max(deadline - time.monotonic(), 0))
                except TimeoutError:
                    return None
                _id, path, _unit, result = sig.body
                if path == job:
                    return result

    def start_unit(self, unit, props):
        """StartTransientUnit, waited for (runc 1.2's startUnit: a leftover failed unit is reset once)."""
        for retry in (True, False):
            try:
                result = self.run_job("StartTransientUnit", "ssa(sv)a(sa(sv))", unit, "replace", props, [])
                break
            except BusError as e:
                if "org.freedesktop.systemd1.UnitExists" not in e.name or not retry:
                    raise
                self.reset_failed(unit)
        if result is None:
            self.reset_failed(unit)
            raise Error(f"Timeout waiting for systemd to create {unit}")
        if result != "done":
            self.reset_failed(unit)
            raise Error(f"error creating systemd unit `{unit}`: got `{result}`")

    def stop_unit(self, unit):
        """StopUnit, waited for; a unit already gone is fine (runc's stopUnit); then its failed state reset."""
        from pyrunc import log
        try:
            result = self.run_job("StopUnit", "ss", unit, "replace")
        except BusError:
            result = "done"      # NoSuchUnit: it ended with its last process
        if result is None:
            raise Error(f"Timed out while waiting for systemd to remove {unit}")
        if result != "done":
            log.warning(f"error removing unit `{unit}`: got `{result}`. Continuing...")
        self.reset_failed(unit)

    def reset_failed(self, unit):
        try:
            self.call("ResetFailedUnit", "s", unit)
        except BusError:
            pass

    def set_properties(self, unit, props):
        """SetUnitProperties at runtime (not persisted)."""
        try:
            self.call("SetUnitProperties", "sba(sv)", unit, True, props)
        except BusError as e:
            raise Error(f"unable to set unit properties: {e}") from None
