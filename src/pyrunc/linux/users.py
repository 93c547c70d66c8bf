"""The container's own /etc/passwd (init process, after pivot_root): never NSS, never the host's files."""
from pyrunc import oslite  # posix without os.py: see oslite
import stat

MAX_SIZE = 4 << 20


def read_regular(path):
    """Contents of a regular file, or None: no FIFO can block us, no /dev/zero can flood us."""
    try:
        fd = oslite.open(path, oslite.O_RDONLY | oslite.O_NONBLOCK | oslite.O_CLOEXEC | oslite.O_NOCTTY)
    except OSError:
        return None
    try:
        st = oslite.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SIZE:
            return None
        return oslite.read(fd, MAX_SIZE).decode("utf-8", "replace")
    finally:
        oslite.close(fd)


def home_of(uid, passwd_text):
    """The home directory of uid in passwd(5) text, or "/" as runc defaults it."""
    for line in (passwd_text or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 6 and parts[2].isdigit() and int(parts[2]) == uid and parts[5]:
            return parts[5]
    return "/"
