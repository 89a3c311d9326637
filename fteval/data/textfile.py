"""Reading text files defensively: at most a byte cap, and UTF-8 errors located by line and column."""

from __future__ import annotations

import stat
from pathlib import Path

__all__ = ["TextFileError", "check_regular", "decode_utf8", "position", "read_capped", "read_regular"]


class TextFileError(ValueError):
    """A file is too large or not valid UTF-8; ``line`` and ``col`` (1-based) locate the problem."""

    def __init__(self, message: str, line: int | None = None, col: int | None = None) -> None:
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


_CHUNK = 1 << 20


def read_capped(path: Path, max_bytes: int) -> bytes:
    """Read at most ``max_bytes`` bytes; never trust the size the file system reports (``/dev/zero``).

    Raises:
        TextFileError: the file holds more than ``max_bytes`` bytes.
        OSError: the file cannot be opened or read.
    """
    # In chunks: ``read(n)`` allocates n bytes up front, so a 1 GiB cap would cost 1 GiB for a small file.
    chunks, size = [], 0
    with path.open("rb") as fh:
        while size <= max_bytes:
            chunk = fh.read(min(_CHUNK, max_bytes + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise TextFileError(f"larger than allowed: the limit is {max_bytes} bytes")
    return data


def check_regular(path: Path, max_bytes: int) -> None:
    """Refuse, before reading, what is not a regular file of at most ``max_bytes`` bytes.

    Raises:
        TextFileError: not a regular file (``/dev/zero``, a pipe), or more than ``max_bytes`` bytes.
        OSError: the file cannot be examined (``FileNotFoundError`` when missing).
    """
    st = path.stat()
    if not stat.S_ISREG(st.st_mode):
        raise TextFileError("not a regular file (a device, pipe or socket)")
    if st.st_size > max_bytes:
        raise TextFileError(f"larger than allowed: {st.st_size:,} bytes, the limit is {max_bytes:,}")


def read_regular(path: Path, max_bytes: int) -> bytes:
    """Read a regular file of at most ``max_bytes`` bytes; anything else is refused before reading (see ``check_regular``)."""
    check_regular(path, max_bytes)
    return read_capped(path, max_bytes)


def position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, column) of character ``index`` of ``text``."""
    line_start = text.rfind("\n", 0, index) + 1
    return text.count("\n", 0, index) + 1, index - line_start + 1


def decode_utf8(data: bytes) -> str:
    """Decode strictly (a leading byte-order mark is dropped).

    Raises:
        TextFileError: naming the first bad byte and its line and column (in characters).
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = exc.start
        line_start = data.rfind(b"\n", 0, bad) + 1
        line = data.count(b"\n", 0, bad) + 1
        col = len(data[line_start:bad].decode("utf-8-sig", errors="replace")) + 1
        raise TextFileError(
            f"not valid UTF-8: byte 0x{data[bad]:02x} at line {line}, column {col}; save the file as UTF-8",
            line,
            col,
        ) from None
