"""Image inputs: files, arrays of every accepted kind, PIL images, and the errors for the rest."""

import cv2
import numpy as np
import pytest
from PIL import Image

from swahr_infer.errors import ImageError
from swahr_infer.image_io import (MAX_PIXELS, MAX_SIDE, image_id_for, image_ids, load_image,
                                 read_file, to_pixels)


def _bgr(h=6, w=5):
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (h, w, 3), np.uint8)


def test_file_is_read_as_rgb_and_unicode_paths_work(tmp_path):
    bgr = _bgr()
    path = tmp_path / "bild_ö_人.png"
    ok, data = cv2.imencode(".png", bgr)
    assert ok
    path.write_bytes(data.tobytes())
    np.testing.assert_array_equal(load_image(path), bgr[:, :, ::-1])
    np.testing.assert_array_equal(load_image(str(path)), bgr[:, :, ::-1])
    pixels, order = to_pixels(path)
    assert order == "bgr"
    np.testing.assert_array_equal(pixels, bgr)


def test_array_is_bgr_unless_rgb():
    bgr = _bgr()
    np.testing.assert_array_equal(load_image(bgr), bgr[:, :, ::-1])
    np.testing.assert_array_equal(load_image(bgr, rgb=True), bgr)
    assert to_pixels(bgr)[1] == "bgr" and to_pixels(bgr, rgb=True)[1] == "rgb"


@pytest.mark.parametrize("shape", [(6, 5), (6, 5, 1)])
def test_grayscale_is_replicated(shape):
    gray = np.arange(30, dtype=np.uint8).reshape(shape)
    out = load_image(gray)
    assert out.shape == (6, 5, 3) and out.dtype == np.uint8
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], gray.reshape(6, 5))


def test_alpha_is_dropped():
    bgra = np.dstack([_bgr(), np.full((6, 5), 7, np.uint8)])
    np.testing.assert_array_equal(load_image(bgra), _bgr()[:, :, ::-1])
    np.testing.assert_array_equal(load_image(bgra, rgb=True), _bgr())


def test_16_bit_keeps_the_high_byte_like_opencv_png_decoding(tmp_path):
    values = np.array([[0x0000, 0x00FF, 0x0100, 0x80FF, 0xFFFF, 0x7F80]], np.uint16)
    arr16 = np.repeat(np.repeat(values[:, :, None], 3, axis=2), 2, axis=0)
    out = load_image(arr16)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out[0, :, 0], [0, 0, 1, 128, 255, 127])
    # the same rule as decoding a 16-bit PNG file
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), arr16)
    np.testing.assert_array_equal(load_image(path), out)


def test_bool_becomes_0_255():
    mask = np.array([[True, False], [False, True]])
    np.testing.assert_array_equal(load_image(mask)[:, :, 0], [[255, 0], [0, 255]])


def test_pil_images_are_converted_to_rgb():
    rgb = _bgr()[:, :, ::-1].copy()
    pil = Image.fromarray(rgb)
    np.testing.assert_array_equal(load_image(pil), rgb)
    np.testing.assert_array_equal(load_image(pil.convert("RGBA")), rgb)
    gray = load_image(pil.convert("L"))
    assert gray.shape == (6, 5, 3)
    np.testing.assert_array_equal(gray[:, :, 0], gray[:, :, 2])


def test_float_arrays_are_refused_with_advice():
    with pytest.raises(ImageError, match="astype"):
        load_image(np.zeros((4, 4, 3), np.float32))


@pytest.mark.parametrize("array, match", [
    (np.zeros((4, 4, 3), np.int32), "uint8"),
    (np.zeros((4, 4, 2), np.uint8), "shape"),
    (np.zeros((4, 4, 3, 1), np.uint8), "shape"),
    (np.zeros(5, np.uint8), "shape"),
])
def test_bad_arrays(array, match):
    with pytest.raises(ImageError, match=match):
        load_image(array)


@pytest.mark.parametrize("shape", [(0, 5, 3), (5, 0, 3), (1, 1, 3), (1, 40), (40, 1)])
def test_too_small_images(shape):
    with pytest.raises(ImageError, match="at least"):
        load_image(np.zeros(shape, np.uint8))


def test_too_large_images_fail_before_any_work():
    # np.zeros is lazily mapped: only the shape is looked at
    with pytest.raises(ImageError, match="at most"):
        load_image(np.zeros((10, MAX_SIDE + 1), np.uint8))
    side = int(MAX_PIXELS ** 0.5) + 1
    with pytest.raises(ImageError, match="limit"):
        load_image(np.zeros((side, side), np.uint8))


def test_8000_by_8000_works():
    from swahr_infer.preprocess import prepare

    big = np.zeros((8000, 8000, 3), np.uint8)
    big[3990:4010, 3990:4010] = 255
    pixels, order = to_pixels(big)
    assert pixels.shape == (8000, 8000, 3) and order == "bgr"
    prepared = prepare(pixels, input_size=128, scales=(1.0,), mean=(0.5,) * 3, std=(0.5,) * 3)
    batch = prepared.batches[0]
    assert batch.shape == (2, 3, 128, 128)
    assert batch[0, :, 64, 64].tolist() == [1.0, 1.0, 1.0]  # the white centre survives


def test_file_errors(tmp_path):
    with pytest.raises(ImageError, match="no such file"):
        read_file(tmp_path / "missing.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        read_file(empty)
    corrupt = tmp_path / "corrupt.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    with pytest.raises(ImageError, match="cannot decode|not an image"):
        read_file(corrupt)
    with pytest.raises(ImageError, match="directory"):
        read_file(tmp_path)
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.zeros((1, 1, 3), np.uint8))
    with pytest.raises(ImageError, match="at least"):
        read_file(tiny)


def test_unsupported_type():
    with pytest.raises(ImageError, match="cannot use int"):
        load_image(3)


@pytest.mark.parametrize("array, match", [
    # np.array([]) is float64: the message must say empty, not "float arrays are not accepted"
    (np.array([]), r"image array is empty \(shape \(0,\)\)"),
    (np.zeros((0, 0, 3), np.float32), "empty"),
    # a batch of one: not "100x1 pixels" read from its first two dimensions
    (np.zeros((1, 100, 100, 3), np.uint8),
     r"4-D array \(a batch\) is not accepted; .*list of images"),
    (np.zeros((2, 100, 100, 3), np.float32), "4-D array"),
])
def test_empty_and_batched_arrays_say_so(array, match):
    with pytest.raises(ImageError, match=match):
        to_pixels(array)


def test_estimator_reports_empty_and_batched_arrays(tiny_model):
    from swahr_infer import Estimator

    estimator = Estimator(tiny_model, threads=1)
    with pytest.raises(ImageError, match="empty"):
        estimator.predict(np.array([]))
    with pytest.raises(ImageError, match="list of images"):
        estimator.predict(np.zeros((1, 100, 100, 3), np.uint8))


@pytest.mark.parametrize("names, ids", [
    (["000000000785.jpg", "sub/7.png"], [785, 7]),            # COCO names keep their number
    (["1.jpg", "sub/1.jpg"], [0, 1]),                          # the same number twice
    (["1.jpg", "01.jpg"], [0, 1]),                             # the same number, written twice
    (["000002.png", "1.jpg", "a.jpg", "b.jpg"], [0, 1, 2, 3]),  # mixed: all by position
    (["².jpg", "3.jpg"], [0, 1]),                              # "²".isdigit(), int() refuses it
    (["٣.jpg"], [0]),                                          # not ASCII digits
    (["a.jpg"], [0]),
    ([], []),
])
def test_image_ids_are_unique_within_a_run(names, ids):
    assert image_ids(names) == ids


def test_image_id_for_does_not_crash_on_unicode_digits():
    assert image_id_for("/x/².jpg", 4) == 4
    assert image_id_for("/x/000123.jpg", 4) == 123
