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


def test_a_replayed_step_is_the_eager_step_on_the_new_batch():
    """From the same weights and Adam state, one replay of the captured step gives the weights one
    eager step (same code, same capturable Adam) gives on the batch copied in, and not those of
    the batch the graph was captured on."""
    import copy

    from export.losses import LossConfig, SwahrLoss
    from export.model import build_model, get_arch
    from export.train import TrainConfig, _to_device, init_official_weights, make_batch

    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    cfg = TrainConfig(arch="w8-tiny", input_size=64, batch_size=4)
    first, second = (_to_device(make_batch(cfg, b), device) for b in (0, 1))
    torch.manual_seed(0)
    model = build_model(get_arch("w8-tiny"))
    init_official_weights(model)
    model = model.to(device).to(memory_format=torch.channels_last).train()
    loss_fn = SwahrLoss(LossConfig())
    graphed = train_profile.GraphedStep(model, loss_fn, 1e-3)
    graphed(first)  # three eager warm-up steps, the capture, one replay on `first`

    def eager_step(batch):
        twin = copy.deepcopy(model)
        opt = torch.optim.Adam(twin.parameters(), lr=torch.tensor(1e-3, device=device), capturable=True)
        opt.load_state_dict(graphed.optimizer.state_dict())
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, cache_enabled=False):
            outputs = twin(batch["images"].contiguous(memory_format=torch.channels_last))
        loss_fn(outputs, batch["heatmaps"], batch["masks"], batch["indices"]).total.backward()
        opt.step()
        return [p.detach().clone() for p in twin.parameters()]

    before = [p.detach().clone() for p in model.parameters()]
    on_second, on_first = eager_step(second), eager_step(first)
    graphed(second)
    torch.cuda.synchronize()
    after = list(model.parameters())

    def largest(a, b):
        return max((x - y).abs().max().item() for x, y in zip(a, b))

    # lr 1e-3: a step moves weights by up to about 1e-3, another batch changes that by 1e-5 or more
    assert largest(after, before) > 1e-4  # the replay did update the weights
    assert largest(after, on_second) < 1e-6
    assert largest(after, on_first) > 1e-5  # ... with the batch copied in, not the captured one
