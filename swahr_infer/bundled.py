"""Files shipped inside the package (``swahr_infer/data/``): a default model and example images.

The default model is the first ``*.onnx`` file (by name) in the data folder; installations
without one get a :class:`~swahr_infer.errors.ModelError` that says how to get a model.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ImageError, ModelError

DATA_DIR = Path(__file__).resolve().parent / "data"


def bundled_model() -> Path:
    """Path of the model shipped with the package."""
    models = sorted(DATA_DIR.glob("*.onnx")) if DATA_DIR.is_dir() else []
    if not models:
        raise ModelError(
            f"no model is bundled with this installation ({DATA_DIR} has no .onnx file): pass "
            "one explicitly (--model PATH / Estimator(PATH)); export one from a checkpoint "
            "with `swahr-infer export`")
    return models[0]


def example_image() -> Path:
    """Path of the example image shipped with the package."""
    images = sorted(p for p in DATA_DIR.glob("example*") if p.suffix.lower() in
                    (".jpg", ".jpeg", ".png")) if DATA_DIR.is_dir() else []
    if not images:
        raise ImageError(f"no example image is bundled with this installation ({DATA_DIR})")
    return images[0]
