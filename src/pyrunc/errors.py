"""Error types shared by every process; the CLI turns them into one line `verb object: reason`."""


class Error(Exception):
    """A failure with a message meant for the user: str(e) is the reason."""


class NotExist(Error):
    """The container id is unknown."""

    def __init__(self, cid):
        super().__init__(f"container {cid} does not exist")


class BadConfig(Error):
    """config.json (or a process.json) is malformed or invalid."""


class WrongState(Error):
    """The command is not allowed in the container's current state."""


def oserror_reason(e):
    """`what: strerror` for an OSError, without Python's `[Errno N]` noise."""
    what = e.filename if e.filename is not None else ""
    text = e.strerror or str(e)
    return f"{what}: {text}" if what else text


def go_text(e):
    """An OSError's errno text as Go (runc) words it: strerror with a lowercase first letter."""
    text = e.strerror or str(e)
    return text[:1].lower() + text[1:]
