"""Error types shared by every process; the CLI turns them into one line `verb object: reason`."""


class Error(Exception):
    """A failure with a message meant for the user: str(e) is the reason."""


class NotExist(Error):
    """The container id is unknown."""

    def __init__(self, cid):
        super().__init__(f"container {cid} does not exist")


class BadConfig(Error):
    """config.json (or a process.json) is malformed or invalid; `problems` says where, when known."""

    problems = ()

    @classmethod
    def of(cls, problems, prefix=""):
        """The error naming every problem on one line, prefix first."""
        e = cls(prefix + "; ".join(problems))
        e.problems = list(problems)
        return e


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


class Problem(str):
    """One thing wrong with a config: a JSON `pointer` ("" when none applies) and a `message`.

    Its text is "pointer: message" (the message alone without a pointer):
    create joins problems into its one-line error, `check` reports each
    pointer and message apart.
    """

    def __new__(cls, pointer, message):
        pointer, message = _one_line(pointer), _one_line(message)
        self = super().__new__(cls, f"{pointer}: {message}" if pointer else message)
        self.pointer = pointer
        self.message = message
        return self

    def __reduce__(self):
        return Problem, (self.pointer, self.message)


# what str.splitlines() breaks at: a key or a path of the config may hold one
_LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _one_line(text):
    """text with its line breaks escaped (\\n): an error is one line, whatever the config's keys and paths hold."""
    if not any(c in text for c in _LINE_BREAKS):
        return text
    return "".join(c.encode("unicode_escape").decode() if c in _LINE_BREAKS else c for c in text)


def refuse(problems, prefix=""):
    """Raise BadConfig.of(problems, prefix) if there is any problem."""
    if problems:
        raise BadConfig.of(problems, prefix)
