"""benchmarks/train_profile.py on a CUDA GPU: the profiler sees the device's kernels, and the
variants the script offers all run (a tiny real model; the figures come from the script itself)."""

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [pytest.mark.gpu, pytest.mark.torch_cuda,  # torch's CUDA only, no CuPy needed
              pytest.mark.skipif(not torch.cuda.is_available(), reason="torch has no CUDA device here")]

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import train_profile  # noqa: E402


def test_profile_on_cuda_counts_kernels_and_device_time(tmp_path):
    result = train_profile.main([
        "--arch", "w8-tiny", "--input-size", "64", "--batch-size", "4", "--iters", "2", "--warmup", "1",
        "--workers", "2", "--profile-iters", "2", "--twin", "--device", "cuda",
        "--variants", "default", "fused-adam", "channels-first", "graphs", "--json", str(tmp_path / "p.json")])
    assert result["meta"]["gpu"]
    assert [r["variant"] for r in result["rows"]] == ["default", "fused-adam", "channels-first", "graphs"]
    for row in result["rows"]:
        assert "error" not in row, row
        prof = row["profile"]
        assert prof["device_ops"] > 50 and 0 < prof["device_busy_ms"] <= prof["wall_ms"] * 1.05
        assert prof["top_kernels"] and all(k["ms"] >= 0 for k in prof["top_kernels"])
        assert row["arms"] == 2 and min(row["step_ms"]) > 0
