"""swahr-infer: fast, exact SWAHR / HigherHRNet multi-person pose estimation.

    >>> import swahr_infer
    >>> poses = swahr_infer.Estimator("model.onnx").predict("people.jpg")

Heavy or optional packages (torch, tensorrt, cupy) are never imported here; names below are
resolved lazily so that ``import swahr_infer`` stays fast on edge devices.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_LAZY = {
    "Estimator": ".estimator",
    "decode": ".decode",
    "Poses": ".poses",
    "ModelInfo": ".metadata",
    "errors": ".errors",
}

__all__ = sorted(_LAZY) + ["__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from . import decode, errors
    from .estimator import Estimator
    from .metadata import ModelInfo
    from .poses import Poses


def __getattr__(name: str):
    if name in _LAZY:
        module = import_module(_LAZY[name], __name__)
        # errors and decode are modules: a package's submodule becomes its attribute once it is
        # imported anywhere, so returning decode's function here would make swahr_infer.decode
        # a function or a module depending on what was imported before
        value = module if name in ("errors", "decode") else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'swahr_infer' has no attribute {name!r}")
