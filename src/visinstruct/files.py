"""Reading files named by the user without hanging or filling memory.

A path given as a recipe or an image may be anything: a named pipe (opening it waits for a
writer), a device such as /dev/zero (endless), a folder, a link loop. `regular_file_problem`
looks before anything is opened; `read_regular` reads a regular file only, never more than a cap.
"""

from __future__ import annotations

import os
import stat

_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a pipe or device never waits
_O_BINARY = getattr(os, "O_BINARY", 0)

_KINDS = (
    (stat.S_ISDIR, "folder"),
    (stat.S_ISFIFO, "named pipe"),
    (stat.S_ISSOCK, "socket"),
    (stat.S_ISCHR, "character device"),
    (stat.S_ISBLK, "block device"),
)


class NotRegularFile(OSError):
    """The path exists but is not a regular file; `kind` says what it is (e.g. "named pipe")."""

    def __init__(self, path: str | os.PathLike[str], kind: str) -> None:
        super().__init__(f"not a regular file ({kind})")
        self.path, self.kind = os.fspath(path), kind


class FileTooLarge(OSError):
    """The file is larger than the reader's cap (`size`: its size, None if it grew while read)."""

    def __init__(self, path: str | os.PathLike[str], size: int | None, cap: int) -> None:
        super().__init__(f"larger than {cap} bytes")
        self.path, self.size, self.cap = os.fspath(path), size, cap


def kind_of(mode: int) -> str:
    """What a `st_mode` is, in words ("regular file", "named pipe", ...)."""
    if stat.S_ISREG(mode):
        return "regular file"
    return next((name for test, name in _KINDS if test(mode)), "special file")


def check_regular(path: str | os.PathLike[str]) -> os.stat_result:
    """The stat of `path` (links followed); raises NotRegularFile for anything but a regular
    file, and OSError (missing, broken link, link loop, no permission) as `os.stat` does."""
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFile(path, kind_of(st.st_mode))
    return st


def read_regular(path: str | os.PathLike[str], max_bytes: int | None = None) -> bytes:
    """The bytes of the regular file at `path`, reading at most `max_bytes` + 1 bytes.

    Checks with `stat` before opening (opening a device can have effects), then opens without
    blocking and checks the opened file again (it may have been replaced in between). Raises
    NotRegularFile, FileTooLarge, or OSError."""
    st = check_regular(path)
    if max_bytes is not None and st.st_size > max_bytes:
        raise FileTooLarge(path, st.st_size, max_bytes)
    fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_BINARY)
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise NotRegularFile(path, kind_of(opened.st_mode))
        data = _read_fd(fd, opened.st_size, None if max_bytes is None else max_bytes + 1)
    finally:
        os.close(fd)
    if max_bytes is not None and len(data) > max_bytes:
        raise FileTooLarge(path, None, max_bytes)
    return data


def _read_fd(fd: int, size: int, cap: int | None) -> bytes:
    """Everything `fd` holds (at most `cap` bytes): one read of the size it has, then on until
    the end, as the file may have grown (small files, most images, take one system call and
    no buffered reader)."""
    want = size + 1 if cap is None else min(size + 1, cap)
    first = os.read(fd, want)
    if len(first) < want:
        return first
    parts = [first]
    got = len(first)
    while cap is None or got < cap:
        more = os.read(fd, 1 << 20 if cap is None else min(1 << 20, cap - got))
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)
