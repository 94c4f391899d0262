"""Typed exceptions: every failure a user can act on has its own class and a message that says what to do."""

from __future__ import annotations


class SwahrError(Exception):
    """Base class of every error raised on purpose by swahr-infer."""


class OptionError(SwahrError, ValueError):
    """An option's value is out of range or contradicts another option (scales, thresholds,
    output paths, training settings)."""


class ImageError(SwahrError, ValueError):
    """An input image cannot be read or used (unreadable, empty, zero-sized, wrong type)."""


class ModelError(SwahrError, ValueError):
    """A model file is missing, unreadable, lacks swahr-infer metadata, or disagrees with the options."""


class CheckpointError(SwahrError, ValueError):
    """A PyTorch checkpoint cannot be loaded into the SWAHR / HigherHRNet architecture."""


class AnnotationError(SwahrError, ValueError):
    """An annotation file cannot be used for evaluation (not COCO format, unknown keypoints)."""


class OutputError(SwahrError, ValueError):
    """The network produced outputs that cannot be decoded (non-finite values, wrong shapes)."""


class DeviceError(SwahrError, RuntimeError):
    """A CUDA device is needed but none is usable (no GPU, no driver, or a CUDA failure)."""


class ToolError(SwahrError, RuntimeError):
    """An external tool swahr-infer runs (trtexec) failed; the message carries its log's tail."""


class MissingDependencyError(SwahrError, ImportError):
    """An optional package is needed for this feature; the message names the extra to install."""

    def __init__(self, package: str, extra: str, feature: str = "", install: str = ""):
        what = f" for {feature}" if feature else ""
        # ``install`` replaces the extra's pip command when a plain pip install is not enough
        # (a package whose published wheels do not work with the installed numpy, say)
        command = install or f"pip install \"swahr-infer[{extra}]\""
        super().__init__(f"{package} is required{what}: {command}")
        self.package = package
        self.extra = extra
