"""Inference backends, one module each, picked by the model file's suffix.

    >>> from swahr_infer.backends import load_backend
    >>> net = load_backend("model.onnx", intra_op_num_threads=2)
    >>> outputs = net.run(batch)          # {"heatmaps": ..., "tags": ...}

Each module defines ``BACKEND`` (its :class:`~.base.Backend` subclass) and imports its heavy
package (onnxruntime, tensorrt, torch) only when loaded.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Union

from ..errors import MissingDependencyError, ModelError, OptionError
from .base import Backend

# backend name -> (module relative to this package, extra that provides its package; None
# for a core dependency, whose absence is a broken install and is reported as such)
BACKENDS = {
    "onnxruntime": (".onnxruntime", None),
    "tensorrt": (".tensorrt", "gpu"),
    "torch": (".torch", "export"),
}

# model file suffix -> backend name
SUFFIXES = {
    ".onnx": "onnxruntime",
    ".engine": "tensorrt",
    ".plan": "tensorrt",
    ".pth": "torch",
    ".pt": "torch",
    ".pth.tar": "torch",  # the official trainer's checkpoint name (checkpoint.pth.tar)
}


def backend_for(path: Union[str, Path]) -> str:
    """The backend name for a model file, from its suffix (or its last two: ``.pth.tar``)."""
    double = "".join(Path(path).suffixes[-2:]).lower()
    suffix = double if double in SUFFIXES else Path(path).suffix.lower()
    try:
        return SUFFIXES[suffix]
    except KeyError:
        raise ModelError(f"{path}: unknown model type {suffix!r}; expected one of "
                         f"{sorted(SUFFIXES)}") from None


def backend_class(name: str) -> type:
    """The :class:`Backend` subclass registered as ``name``."""
    if name not in BACKENDS:
        raise OptionError(f"unknown backend {name!r}; choose from {sorted(BACKENDS)} or 'auto'")
    module_name, extra = BACKENDS[name]
    try:
        module = import_module(module_name, __name__)
    except ModuleNotFoundError as exc:
        if extra is None:
            raise
        ours = bool(exc.name and exc.name.startswith(__name__))  # module not in this install
        package = name if ours or not exc.name else exc.name
        install = ""
        if name == "tensorrt":  # not a pip extra: NVIDIA's wheels or JetPack
            from ..trt_build import TENSORRT_INSTALL as install
        raise MissingDependencyError(package, extra, f"the {name} backend", install=install) from exc
    return module.BACKEND


def load_backend(path: Union[str, Path], backend: str = "auto", **options) -> Backend:
    """Load a model file with the backend its suffix calls for (or the one named).

    Args:
        path: ``.onnx`` (ONNX Runtime), ``.engine`` / ``.plan`` (TensorRT) or ``.pth`` / ``.pt``
            (a PyTorch checkpoint, run by the torch backend).
        backend: "auto" or a name from :data:`BACKENDS`.
        **options: passed to the backend's constructor (e.g. ``intra_op_num_threads``).
    """
    name = backend_for(path) if backend == "auto" else backend
    return backend_class(name)(path, **options)


__all__ = ["Backend", "BACKENDS", "SUFFIXES", "backend_for", "backend_class", "load_backend"]
