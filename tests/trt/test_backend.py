"""TensorRT backend: a clear error without TensorRT; real engines where TensorRT and a GPU exist."""

import numpy as np
import pytest

from swahr_infer.errors import MissingDependencyError, ModelError
from tests.runtime.tiny_model import build_tiny_model


def _has_tensorrt():
    try:
        import tensorrt
    except ImportError:
        return False
    return hasattr(tensorrt, "Builder")


@pytest.mark.skipif(_has_tensorrt(), reason="tensorrt is installed")
def test_engine_without_tensorrt_says_how_to_get_it(tmp_path):
    from swahr_infer import Estimator

    engine = tmp_path / "m.engine"
    engine.write_bytes(b"\0" * 16)
    with pytest.raises(MissingDependencyError, match="pip install tensorrt"):
        Estimator(str(engine))


def _tiny_engine(tmp_path, shapes=None):
    """A tiny contract model as ONNX and as a TensorRT engine built from it."""
    from swahr_infer.trt_build import BuildOptions, build_engine

    onnx_path = tmp_path / "tiny.onnx"
    build_tiny_model(onnx_path)
    engine = tmp_path / "tiny.engine"
    build_engine(str(onnx_path), str(engine), BuildOptions(shapes=shapes))
    return onnx_path, engine


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_engine_estimator_matches_onnx(tmp_path):
    """Estimator("model.engine").predict(img): same people as ONNX Runtime on the same model."""
    from swahr_infer import Estimator
    from tests.runtime.conftest import blob_image

    onnx_path, engine = _tiny_engine(tmp_path)
    image = blob_image(160, 224)
    ref = Estimator(str(onnx_path), detection_threshold=0.5).predict(image)
    got = Estimator(str(engine), detection_threshold=0.5).predict(image)
    assert len(ref) > 0, "the tiny model finds the blobs: something to compare"
    assert len(got) == len(ref)
    np.testing.assert_allclose(got.keypoints, ref.keypoints, atol=0.05)
    np.testing.assert_allclose(got.scores, ref.scores, atol=1e-3)


@pytest.mark.tensorrt
@pytest.mark.gpu
def test_engine_outside_profile_is_a_model_error(tmp_path):
    from swahr_infer.backends.tensorrt import TensorRTBackend

    _, engine = _tiny_engine(tmp_path, ((1, 3, 64, 64), (2, 3, 128, 128), (2, 3, 256, 256)))
    backend = TensorRTBackend(str(engine))
    with pytest.raises(ModelError, match="optimisation profile"):
        backend.run(np.zeros((2, 3, 512, 512), np.float32))
