"""The CUDA kernels compile, without a GPU: nvcc (when installed) and NVRTC (when CuPy's
NVRTC library is there) - NVRTC is what CuPy uses at run time, and it has no host headers."""

import shutil
import subprocess

import pytest

from swahr_infer.gpu.device import KERNEL_DIR

SOURCES = sorted(KERNEL_DIR.glob("*.cu"))
pytestmark = pytest.mark.slow


def test_every_module_the_wrappers_load_is_shipped():
    assert {p.stem for p in SOURCES} == {"preprocess", "fusion", "nms", "refine"}


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc is not installed")
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_nvcc_compiles(source, tmp_path):
    run = subprocess.run(["nvcc", "-ptx", "-arch=sm_90", "-o", str(tmp_path / "k.ptx"),
                          str(source)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "warning" not in run.stderr.lower(), run.stderr


def _nvrtc():
    try:
        from cupy_backends.cuda.libs import nvrtc

        nvrtc.getVersion()
    except Exception:  # noqa: BLE001 - no CuPy, or CuPy without an NVRTC library
        pytest.skip("CuPy's NVRTC is not available")
    return nvrtc


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_nvrtc_compiles(source):
    nvrtc = _nvrtc()
    program = nvrtc.createProgram(source.read_text(), source.name, [], [])
    try:
        nvrtc.compileProgram(program, ["-arch=compute_90", "--std=c++17"])
    except Exception as exc:  # noqa: BLE001 - the log says why
        pytest.fail(f"{exc}\n{nvrtc.getProgramLog(program)}")
    assert b".entry" in nvrtc.getPTX(program)


@pytest.mark.parametrize("defines", [("PER_THREAD=16", "MIN_BLOCKS=1"), ("THREADS=512", "MIN_BLOCKS=3")])
def test_nvrtc_compiles_nms_variants(defines):
    """The NMS tile launch's tunable macros (gpu_bench's variants) compile when overridden."""
    nvrtc = _nvrtc()
    source = KERNEL_DIR / "nms.cu"
    program = nvrtc.createProgram(source.read_text(), source.name, [], [])
    try:
        nvrtc.compileProgram(program, ["-arch=compute_90", "--std=c++17",
                                       *(f"-D{d}" for d in defines)])
    except Exception as exc:  # noqa: BLE001 - the log says why
        pytest.fail(f"{exc}\n{nvrtc.getProgramLog(program)}")
    ptx = nvrtc.getPTX(program)
    assert b".entry nms_tiles" in ptx and b".entry nms_select" in ptx
