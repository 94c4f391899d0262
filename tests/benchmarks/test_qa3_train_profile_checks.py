"""benchmarks/train_profile.py refuses a bad configuration once, before any variant (one line,
exit status 2, no JSON), and exits non-zero when every variant failed (real torch, CPU)."""

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import train_profile  # noqa: E402

TINY = ["--arch", "w8-tiny", "--input-size", "64", "--batch-size", "2", "--iters", "1",
        "--warmup", "0", "--workers", "0", "--threads", "1", "--device", "cpu",
        "--profile-iters", "0"]


def _run(tmp_path, capsys, *changes):
    """main() with TINY changed by (option, value) pairs; (exit code, stderr, JSON written)."""
    argv = list(TINY)
    for option, value in changes:
        if option in argv:
            argv[argv.index(option) + 1] = value
        else:
            argv += [option, value]
    out = tmp_path / "p.json"
    with pytest.raises(SystemExit) as info:
        train_profile.main(argv + ["--json", str(out)])
    return info.value.code, capsys.readouterr().err, out.exists()


@pytest.mark.parametrize("option, value, message", [
    ("--arch", "foo", "foo"),
    ("--batch-size", "0", "--batch-size must be at least 1, got 0"),
    ("--input-size", "100", "--input-size must be a positive multiple of 32, got 100"),
    ("--workers", "-2", "--workers must be -1 (automatic) or more, got -2"),
    ("--device", "gpu", "--device must be auto, cpu, cuda or cuda:N, got 'gpu'"),
])
def test_a_bad_configuration_is_one_line_and_exit_2(tmp_path, capsys, option, value, message):
    code, err, wrote = _run(tmp_path, capsys, (option, value))
    assert code == 2 and not wrote
    assert err.startswith("train_profile: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_refused_before_any_variant(tmp_path, capsys):
    code, err, wrote = _run(tmp_path, capsys, ("--device", "cuda"))
    assert code == 2 and not wrote
    assert "--device cuda: no CUDA device is available here" in err


@pytest.mark.parametrize("option, value", [("--iters", "0"), ("--warmup", "-1"),
                                           ("--profile-iters", "-1"), ("--threads", "-1")])
def test_counts_below_their_minimum_are_refused_by_argparse(tmp_path, capsys, option, value):
    code, err, wrote = _run(tmp_path, capsys, (option, value))
    assert code == 2 and not wrote
    assert f"argument {option}: must be at least" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="graphs fails only without CUDA")
def test_every_variant_failing_exits_1_after_writing_the_json(tmp_path, capsys):
    code, err, wrote = _run(tmp_path, capsys, ("--variants", "graphs"))
    assert code == 1 and wrote
    assert "every variant failed" in err
