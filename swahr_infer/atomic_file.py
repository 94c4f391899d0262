"""Writing a file so that its readers see the old one or the whole new one, never a part.

Everything swahr-infer writes that someone may read while it is written, or that a killed run
would otherwise leave half-written (ONNX models, TensorRT engines and their sidecars, timing
caches, training checkpoints, results files, benchmark JSON), goes through :func:`replacing`:
the data goes to a temporary file beside the destination, which is renamed over it when the
write finished. A rename within one folder is atomic on POSIX and on Windows.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, "os.PathLike[str]"]


@contextlib.contextmanager
def replacing(path: PathLike) -> Iterator[Path]:
    """A temporary file beside ``path``, renamed to ``path`` when the block succeeds.

    The temporary file is created before the block runs, so an unwritable destination fails
    before any expensive work; it is removed on any failure (the caller's exception passes on),
    so nothing half-written is left. Missing folders are created. The new file gets the
    permissions ``open()`` would give it: the old file's when it replaces one, else 0o666 less
    the umask (``mkstemp`` alone would leave 0o600, an engine other users cannot load). A
    symbolic link is kept and the file it points at replaced.

    Raises ``IsADirectoryError`` when ``path`` is a folder, ``OSError`` when it is something
    other than a regular file (a device, a pipe) or cannot be created.
    """
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    if path.is_dir():
        raise IsADirectoryError(errno.EISDIR, "it is a directory", str(path))
    mode = None
    if path.exists():
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "it is not a regular file", str(path))
        mode = stat.S_IMODE(info.st_mode)
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=folder)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _creation_mode() if mode is None else mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


def write_bytes(path: PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` through :func:`replacing`; returns the path."""
    with replacing(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` through :func:`replacing`; returns the path."""
    return write_bytes(path, text.encode("utf-8"))


def write_output(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to an output a user named (``--json``, ``--metrics-json``): through
    :func:`replacing` when it is, or will be, a file; straight into it when it is a stream, such
    as ``/dev/stdout`` or a pipe from ``>(jq ...)``, which cannot be replaced and which a reader
    sees as it comes anyway. Missing folders are made. Returns the path."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:  # not there yet (or not reachable: replacing says why)
        mode = 0
    if stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode):
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(text)
        return path
    return write_text(path, text)


def _creation_mode() -> int:
    """0o666 less the process umask, what ``open(path, "w")`` gives a new file. The umask is read
    from /proc where there is one: setting it to read it back, the only portable way, would race
    with other threads creating files."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask
