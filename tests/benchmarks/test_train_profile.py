"""benchmarks/train_profile.py: the trainer's own data path and step, timed and profiled (a tiny
real model on the CPU here; tests/gpu/test_train_profile_cuda.py runs it on a GPU)."""

import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import train_profile  # noqa: E402

TINY = ["--arch", "w8-tiny", "--input-size", "64", "--batch-size", "2", "--iters", "2", "--warmup", "1",
        "--workers", "0", "--threads", "1", "--device", "cpu"]


def test_twin_variants_time_each_arm_and_profile_the_host(tmp_path):
    out = tmp_path / "profile.json"
    result = train_profile.main(TINY + ["--profile-iters", "2", "--twin",
                                        "--variants", "default", "fused-adam", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert [r["variant"] for r in result["rows"]] == ["default", "fused-adam"]
    for row in result["rows"]:
        assert row["arms"] == 2 and len(row["step_ms"]) == 2 and min(row["step_ms"]) > 0
        assert row["synced_ms"] == pytest.approx(row["wait_ms"] + row["copy_ms"] + sum(row["step_ms"]))
        assert row["wait_ms"] > 0 and row["free_ms"] > 0  # no workers: the batch is made in the loop
        prof = row["profile"]
        assert prof["device_busy_ms"] is None and prof["device_ops"] is None and prof["top_kernels"] == []
        names = [op["name"] for op in prof["top_host_ops"]]
        assert any("convolution" in name for name in names), names
        assert sum(op["ms"] for op in prof["top_host_ops"]) <= prof["wall_ms"] * 1.05
    # fused Adam updates all parameters in one call: far fewer host operators per iteration
    default, fused = (r["profile"]["host_ops"] for r in result["rows"])
    assert fused < default * 0.8


def test_a_failing_variant_is_reported_and_the_others_still_run(tmp_path):
    result = train_profile.main(TINY + ["--profile-iters", "0", "--variants", "graphs", "default",
                                        "--json", str(tmp_path / "p.json")])
    failed, row = result["rows"]
    assert failed == {"variant": "graphs", "error": "ValueError: the graphs variant needs a CUDA device"}
    assert row["variant"] == "default" and row["arms"] == 1 and len(row["step_ms"]) == 1
    assert row["profile"] is None


def test_unknown_variant_is_refused():
    cfg = train_profile.TrainConfig(arch="w8-tiny", input_size=64, batch_size=2, workers=0)
    with pytest.raises(ValueError, match="unknown variant 'nonsense'"):
        train_profile.measure(cfg, "nonsense", torch.device("cpu"), 1, 1, 0, twin=False)
