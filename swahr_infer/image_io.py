"""Turn whatever the user passes (a path, a numpy array, a PIL image) into 8-bit 3-channel pixels.

Rules, chosen so that the pixels the network sees are the ones the official pipeline sees:

* **Files** are decoded with OpenCV exactly as the official dataset reads them:
  ``IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION`` (EXIF rotation is *not* applied, as for the COCO
  annotations; grayscale is replicated, alpha dropped, 16-bit reduced to its high byte).  The
  bytes are read with ``numpy.fromfile`` and decoded with ``cv2.imdecode`` so that non-ASCII
  paths work on every platform.
* **numpy arrays** are taken as OpenCV gives them: [H, W, 3] uint8 in **BGR** order.  Pass
  ``rgb=True`` for RGB arrays (e.g. from PIL, imageio, matplotlib).  [H, W] and [H, W, 1]
  grayscale are replicated to three channels; a fourth (alpha) channel is dropped; uint16
  arrays are reduced to 8 bits by keeping the high byte (``v >> 8``, what OpenCV does when it
  decodes a 16-bit PNG as 8-bit); bool arrays become 0 / 255.  Float arrays are refused: their
  range (0..1 or 0..255?) cannot be guessed safely — convert them yourself, e.g.
  ``(x * 255).round().clip(0, 255).astype(np.uint8)``.
* **PIL images** are converted to RGB by PIL (palette, grayscale, CMYK, alpha dropped).

Limits: each side at least :data:`MIN_SIDE` pixels, at most :data:`MAX_SIDE` (OpenCV's warp
uses 16-bit coordinates), and at most :data:`MAX_PIXELS` pixels in all (8000 x 8000 works).
Anything else raises :class:`~swahr_infer.errors.ImageError` with the reason.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .errors import ImageError

MIN_SIDE = 2
MAX_SIDE = 32767
MAX_PIXELS = 16384 * 16384

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jp2",
                  ".pbm", ".pgm", ".ppm", ".pnm", ".sr", ".ras", ".exr", ".hdr")

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

ImageLike = Union[str, os.PathLike, np.ndarray, "PILImage.Image"]


def check_size(height: int, width: int, what: str = "image") -> None:
    """Raise :class:`ImageError` unless an image of this size can be processed."""
    if height < MIN_SIDE or width < MIN_SIDE:
        raise ImageError(f"{what} is {width}x{height} pixels; each side must be at least "
                         f"{MIN_SIDE} pixels")
    if height > MAX_SIDE or width > MAX_SIDE:
        raise ImageError(f"{what} is {width}x{height} pixels; each side must be at most "
                         f"{MAX_SIDE} pixels (resize it first)")
    if height * width > MAX_PIXELS:
        raise ImageError(f"{what} has {height * width:,} pixels, more than the limit of "
                         f"{MAX_PIXELS:,}; resize it first")


def read_file(path: Union[str, os.PathLike]) -> np.ndarray:
    """Decode an image file as [H, W, 3] uint8 **BGR**, the way the official dataset does."""
    path = Path(path)
    if "\0" in str(path):  # the OS refuses it with a bare ValueError
        raise ImageError(f"{str(path)!r}: a path cannot contain a NUL character")
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory, not an image") from None
    except OSError as exc:
        raise ImageError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return decode_bytes(data, str(path))


def decode_bytes(data: Union[bytes, np.ndarray], what: str = "image") -> np.ndarray:
    """Decode encoded image bytes (a file's content) exactly as :func:`read_file` does.

    For images that arrive as bytes rather than local files (object stores, archives,
    ``ray.data.read_binary_files``); ``what`` names the source in error messages.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = np.frombuffer(data, np.uint8)
    elif isinstance(data, np.ndarray) and data.dtype == np.uint8:
        data = data.reshape(-1)
    else:  # a str ('abc') or a list of ints would fail in numpy with its own errors
        raise ImageError(f"{what}: encoded image data must be bytes or a uint8 array, not "
                         f"{type(data).__name__}" + (f" of {data.dtype}" if isinstance(
                             data, np.ndarray) else ""))
    if data.size == 0:
        raise ImageError(f"{what}: file is empty")
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error as exc:  # e.g. larger than OpenCV's own pixel limit
        raise ImageError(f"{what}: cannot be decoded ({str(exc).strip().splitlines()[-1]})") from None
    if image is None:
        raise ImageError(f"{what}: not an image OpenCV can decode (corrupt or unsupported format)")
    check_size(*image.shape[:2], what=what)
    return image


def check_array(array: np.ndarray) -> None:
    """Raise :class:`ImageError` unless ``array`` has the shape of one image of a usable size.

    The checks go from the most basic to the finest so that the message names the real
    problem: an empty array is reported as empty (not as a float array, which ``np.array([])``
    also is), and a 4-D batch as a batch (not as an image "W x 1 pixels" read from its first
    two dimensions).  The dtype is checked afterwards, by :func:`_array_to_3ch`.
    """
    shape = tuple(array.shape)
    if array.size == 0:
        raise ImageError(f"image array is empty (shape {shape}); each side must be at least "
                         f"{MIN_SIDE} pixels")
    if array.ndim == 4:
        raise ImageError(f"image array has shape {shape}: a 4-D array (a batch) is not "
                         "accepted; pass one [H, W, 3] image, or a list of images")
    if array.ndim not in (2, 3):
        raise ImageError(f"image arrays must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], "
                         f"not shape {shape}")
    check_size(*shape[:2], what="image array")


def _array_to_3ch(array: np.ndarray) -> np.ndarray:
    """[H, W], [H, W, 1|3|4] of uint8/uint16/bool -> [H, W, 3] uint8, channel order kept."""
    if array.dtype == np.bool_:
        array = array.astype(np.uint8) * np.uint8(255)
    elif array.dtype.kind == "u" and array.dtype.itemsize == 2:  # either byte order
        array = (array.astype(np.uint16) >> 8).astype(np.uint8)
    elif np.issubdtype(array.dtype, np.floating):
        raise ImageError(
            f"float image arrays ({array.dtype}) are not accepted because their range is "
            "ambiguous; convert to uint8 first, e.g. (x * 255).round().clip(0, 255).astype(np.uint8)")
    elif array.dtype != np.uint8:
        raise ImageError(f"image arrays must be uint8 (or uint16 / bool), not {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim != 3 or array.shape[2] not in (3, 4):
        raise ImageError(f"image arrays must be [H, W], [H, W, 1], [H, W, 3] or [H, W, 4], "
                         f"not shape {tuple(array.shape)}")
    if array.shape[2] == 4:
        array = array[:, :, :3]
    return array


def to_pixels(image: ImageLike, *, rgb: bool = False) -> Tuple[np.ndarray, str]:
    """Any accepted input -> ([H, W, 3] uint8 C-contiguous, its channel order "rgb" or "bgr").

    Conversion to a fixed order is left out on purpose: the normaliser reads either order for
    free (:func:`swahr_infer.preprocess.normalization_table`).  ``rgb`` only applies to arrays.
    """
    if isinstance(image, (str, os.PathLike)):
        return read_file(image), "bgr"
    if isinstance(image, np.ndarray):
        check_array(image)
        pixels = _array_to_3ch(image)
        return np.ascontiguousarray(pixels), "rgb" if rgb else "bgr"
    if _is_pil(image):
        return _pil_pixels(image), "rgb"
    raise ImageError(f"cannot use {type(image).__name__} as an image: pass a file path, "
                     "a numpy array (BGR uint8, or rgb=True) or a PIL image")


def _pil_pixels(image) -> np.ndarray:
    """[H, W, 3] uint8 RGB of a PIL image.

    16- and 32-bit integer modes ("I;16", "I") go through the array rules (the high byte, as
    for a uint16 array or a 16-bit file), not PIL's own conversion, which clips every value
    over 255 to white; float mode "F" is refused like a float array (its range is ambiguous).
    A truncated or closed image is an ImageError, so a list goes on without it.
    """
    check_size(image.height, image.width, what="PIL image")
    try:
        if image.mode == "F":
            raise ImageError("a float (mode 'F') PIL image is ambiguous (0..1 or 0..255?): "
                             "convert it to 8-bit first")
        if image.mode.startswith("I"):  # "I", "I;16", "I;16B", ...: integers over 8 bits
            values = np.asarray(image)
            wide = values.astype(np.uint16) if values.dtype.itemsize <= 2 else np.clip(
                values, 0, 65535).astype(np.uint16)
            return np.ascontiguousarray(_array_to_3ch(wide))  # one gray channel: any order
        pil = image if image.mode == "RGB" else image.convert("RGB")
        return np.asarray(pil, dtype=np.uint8).copy()
    except ImageError:
        raise
    except (OSError, ValueError) as exc:  # "image file is truncated", "closed image", ...
        raise ImageError(f"PIL image cannot be read: {exc}") from None


def load_image(image: ImageLike, *, rgb: bool = False) -> np.ndarray:
    """Any accepted input -> [H, W, 3] uint8 **RGB** (what the official pipeline feeds the net).

    Args:
        image: a file path, a numpy array (BGR unless ``rgb=True``) or a PIL image.
        rgb: the array is already in RGB order.
    """
    pixels, order = to_pixels(image, rgb=rgb)
    return pixels if order == "rgb" else np.ascontiguousarray(pixels[:, :, ::-1])


def _is_pil(obj) -> bool:
    # PIL is a dependency, but only import it when something that might be a PIL image arrives
    module = type(obj).__module__
    if not module.startswith("PIL."):
        return False
    from PIL import Image

    return isinstance(obj, Image.Image)


def list_images(folder: Union[str, Path]) -> List[Path]:
    """The image files under ``folder`` (recursive, :data:`IMAGE_SUFFIXES`), sorted by path.

    One rule for every command that takes a folder (predict, predict --ray, batch).
    """
    return sorted(p for p in Path(folder).rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def _numeric_stem(path: Optional[Union[str, Path]]) -> Optional[int]:
    """The file stem as a number when it is one written with ASCII digits 0-9, else None.

    ``str.isdigit`` is not enough: it accepts characters such as "²" that ``int`` refuses, and
    ``isdecimal`` alone accepts other scripts' digits ("٣"), which are not COCO names.
    """
    stem = Path(path).stem if path else ""
    return int(stem) if stem.isascii() and stem.isdecimal() else None


def image_id_for(path: Optional[Union[str, Path]], index: int) -> int:
    """COCO image id of one file: its stem when that is a number (COCO names), else ``index``.

    Per file, so two files of one run can get the same id; :func:`image_ids` gives ids that
    are unique within a run.
    """
    number = _numeric_stem(path)
    return int(index) if number is None else number


def image_ids(paths: Sequence[Union[str, Path]]) -> List[int]:
    """COCO image ids of the files of one run, distinct from each other.

    The file stems when every stem is an ASCII decimal number and no two are equal (COCO
    names such as 000000000785.jpg, so the results match the annotations); otherwise each
    file's 0-based position in ``paths``.  The rule looks at all files at once because mixing
    the two kinds of id can give two files the same id (1.jpg and the second file; 1.jpg and
    sub/1.jpg), which COCO tools would take for one image.
    """
    numbers = [_numeric_stem(path) for path in paths]
    if None not in numbers and len(set(numbers)) == len(numbers):
        return numbers
    return list(range(len(paths)))
