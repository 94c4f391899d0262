"""CuPy, the device, the kernels and pinned host memory: what every GPU module shares.

CuPy is imported here and nowhere at package import time; without it every GPU feature raises
:class:`~swahr_infer.errors.MissingDependencyError` naming the ``gpu`` extra.  The CUDA C sources
in ``kernels/`` are compiled with NVRTC through :class:`cupy.RawModule` on first use; CuPy keeps
the compiled modules on disk (``~/.cupy/kernel_cache``, or ``CUPY_CACHE_DIR``), so the compile
cost (about a second per file) is paid once per machine and CuPy version.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path
from typing import Tuple

import numpy as np

from ..errors import DeviceError, MissingDependencyError

log = logging.getLogger(__name__)

KERNEL_DIR = Path(__file__).resolve().with_name("kernels")
CUPY_INSTALL = ('pip install "swahr-infer[gpu]" (CUDA 12: cupy-cuda12x; '
                "CUDA 13: pip install cupy-cuda13x)")


def import_cupy(feature: str = "the GPU pipeline"):
    """The ``cupy`` module, or :class:`MissingDependencyError` naming the ``gpu`` extra."""
    try:
        import cupy
    except ImportError as exc:
        raise MissingDependencyError("cupy", "gpu", feature, install=CUPY_INSTALL) from exc
    return cupy


def require_device(feature: str = "the GPU pipeline") -> None:
    """Raise :class:`DeviceError` unless CuPy sees at least one CUDA device."""
    cp = import_cupy(feature)
    try:
        count = cp.cuda.runtime.getDeviceCount()
    except Exception as exc:  # noqa: BLE001 - CuPy raises its own CUDA error types
        raise DeviceError(f"{feature} needs a CUDA GPU, but CUDA reports: {exc}") from exc
    if count < 1:
        raise DeviceError(f"{feature} needs a CUDA GPU; none was found")


def kernel_source(name: str) -> str:
    """The CUDA C source ``kernels/<name>.cu`` shipped with the package."""
    path = KERNEL_DIR / f"{name}.cu"
    if not path.is_file():
        raise FileNotFoundError(f"kernel source {path} is missing from the installation")
    return path.read_text()


@functools.lru_cache(maxsize=None)
def kernel_module(name: str, defines: Tuple[str, ...] = ()):
    """``cupy.RawModule`` of ``kernels/<name>.cu``, compiled once per process (and cached on disk).

    No fast-math options: the kernels rely on IEEE rounding to agree with the numpy references.
    ``defines`` ("NAME=VALUE") override a source's tunable macros: benchmarks compile variants
    of a kernel this way; the pipeline uses the defaults.
    """
    cp = import_cupy()
    return cp.RawModule(code=kernel_source(name),
                        options=("--std=c++17",) + tuple(f"-D{d}" for d in defines))


def kernel(module: str, function: str, defines: Tuple[str, ...] = ()):
    """One ``extern "C"`` kernel of ``kernels/<module>.cu`` (a ``cupy.RawKernel``)."""
    return kernel_module(module, tuple(defines)).get_function(function)


def blocks(n: int, per_block: int) -> int:
    """Number of blocks of ``per_block`` that cover ``n`` items."""
    return max(1, -(-int(n) // int(per_block)))


class PinnedBuffer:
    """A page-locked host array that grows on demand, for asynchronous copies.

    Host <-> device copies from pageable memory are staged and synchronous; from pinned memory
    they run asynchronously on a stream at full bus speed.  ``view(shape, dtype)`` returns a
    numpy array over the buffer (valid until the next ``view`` that needs more room).
    """

    def __init__(self):
        self._memory = None
        self._nbytes = 0

    def view(self, shape: Tuple[int, ...], dtype) -> np.ndarray:
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape)) * dtype.itemsize
        if nbytes > self._nbytes:
            cp = import_cupy()
            self._nbytes = max(nbytes, 2 * self._nbytes)
            self._memory = cp.cuda.alloc_pinned_memory(self._nbytes)
        flat = np.frombuffer(self._memory, dtype=np.uint8, count=nbytes)
        return flat.view(dtype).reshape(shape)

    def holds(self, array: np.ndarray) -> bool:
        """Whether ``array`` already lives in this buffer (no staging copy needed)."""
        if self._memory is None or not isinstance(array, np.ndarray):
            return False
        start = self._memory.ptr
        return start <= array.ctypes.data < start + self._nbytes

