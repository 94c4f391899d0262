"""benchmarks/model_report.py checks its --extra models and its --fp16 checkpoint before running
anything, and removes its temporary validation set at the end, also when a row fails (real
files, the bundled model, real checkpoints of the trainer's architectures)."""

import json
import sys
import tempfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `benchmarks` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from benchmarks import model_report  # noqa: E402
from eval.conftest import needs_scorer  # noqa: E402
from export.model import ARCHS, build_model  # noqa: E402
from swahr_infer.bundled import bundled_model  # noqa: E402
from swahr_infer.errors import ModelError  # noqa: E402


@pytest.fixture
def temp_root(tmp_path, monkeypatch):
    """tempfile's folder for this test, to see what the script leaves there."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def _checkpoint(path, arch):
    torch.manual_seed(0)
    torch.save(build_model(ARCHS[arch]).state_dict(), path)
    return path


def _refused(argv, capsys):
    with pytest.raises(SystemExit) as info:
        model_report.main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    ("model.onnx", "--extra model.onnx: expected NAME=PATH"),
    ("=model.onnx", "--extra =model.onnx: expected NAME=PATH"),
    ("ablation=", "--extra ablation=: expected NAME=PATH"),
    ("ablation=missing.onnx", "--extra ablation=missing.onnx: no such model file missing.onnx"),
])
def test_every_extra_is_checked_before_anything_runs(tmp_path, temp_root, capsys, extra,
                                                     message):
    out = tmp_path / "report.json"
    err = _refused(["--model", str(bundled_model()), "--images", "1", "--json", str(out),
                    "--extra", extra], capsys)
    assert message in err
    assert not out.exists() and list(temp_root.iterdir()) == []  # no validation set made


def test_an_fp16_checkpoint_of_another_architecture_is_refused(tmp_path, temp_root, capsys):
    ckpt = _checkpoint(tmp_path / "tiny.pth", "w8-tiny")  # the bundled model is w16-small
    out = tmp_path / "report.json"
    err = _refused(["--model", str(bundled_model()), "--fp16", str(ckpt), "--images", "1",
                    "--json", str(out)], capsys)
    assert "is a w8-tiny (SWAHR, width 8, 17 joints) checkpoint but --model" in err
    assert "is w16-small (SWAHR, width 16, 17 joints)" in err
    assert not out.exists() and list(temp_root.iterdir()) == []
    err = _refused(["--model", str(bundled_model()), "--fp16", str(tmp_path / "none.pth"),
                    "--json", str(out)], capsys)
    assert "checkpoint not found" in err


def test_the_validation_set_is_removed_when_a_row_fails(tmp_path, temp_root):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError, match="ONNX Runtime cannot load it"):
        model_report.main(["--model", str(bad), "--images", "1", "--size", "64",
                           "--json", str(tmp_path / "report.json")])
    assert list(temp_root.iterdir()) == []


def test_keep_val_keeps_the_validation_set(tmp_path, temp_root, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(ModelError):
        model_report.main(["--model", str(bad), "--images", "1", "--size", "64", "--keep-val",
                           "--json", str(tmp_path / "report.json")])
    (kept,) = temp_root.iterdir()
    assert (kept / "val" / "annotations.json").is_file()
    assert f"validation set kept in {kept / 'val'}" in capsys.readouterr().out


@needs_scorer
def test_a_matching_fp16_checkpoint_gives_its_row_and_nothing_is_left(tmp_path, temp_root):
    ckpt = _checkpoint(tmp_path / "w16.pth", "w16-small")  # random weights, the model's arch
    out = tmp_path / "report.json"
    assert model_report.main(["--model", str(bundled_model()), "--fp16", str(ckpt),
                              "--images", "1", "--size", "128", "--threads", "1",
                              "--other-input", "192", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert rows[-1]["config"] == "FP16 ONNX, flip, scale 1" and rows[-1]["failures"] == 0
    assert list(temp_root.iterdir()) == []
