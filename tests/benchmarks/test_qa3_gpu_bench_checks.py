"""benchmarks/gpu_bench.py on a machine without a usable GPU: the package's DeviceError (or the
missing-CuPy message) as one line and exit status 1, not CuPy's raw CUDA traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from swahr_infer.errors import SwahrError
from swahr_infer.gpu.device import require_device

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))


def _no_gpu() -> bool:
    try:
        require_device()
    except SwahrError:
        return True
    return False


pytestmark = pytest.mark.skipif(not _no_gpu(), reason="needs a machine without a usable GPU")


def test_main_returns_1_with_one_line(tmp_path, capsys):
    from benchmarks import gpu_bench

    out = tmp_path / "gpu_bench.json"
    assert gpu_bench.main(["--quick", "--json", str(out)]) == 1
    captured = capsys.readouterr()
    # the package's own check says why (CuPy installed: "gpu_bench needs a CUDA GPU ..."; not
    # installed: "cupy is required for gpu_bench: pip install ..."), and the script prints it
    with pytest.raises(SwahrError) as reason:
        require_device("gpu_bench")
    assert captured.err == f"gpu_bench: error: {reason.value}\n"
    assert "needs a CUDA GPU" in captured.err or "pip install" in captured.err
    assert len(captured.err.strip().splitlines()) == 1 and captured.out == ""
    assert not out.exists()


def test_the_script_exits_1_without_a_traceback():
    run = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_bench.py"), "--quick"],
                         capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and "gpu_bench: error:" in run.stderr
