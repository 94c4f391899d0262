"""``swahr-infer export``: it works, and every bad input ends in one line and a non-zero code."""

import json
import subprocess
import sys

import pytest

from swahr_infer.cli import main


def last_lines(text):
    return [line for line in text.splitlines() if line.strip()]


def test_help_lists_every_registered_arch():
    pytest.importorskip("torch")
    from export.model import ARCHS
    from swahr_infer.cli.export import ARCH_NAMES

    assert tuple(ARCHS) == ARCH_NAMES


torch = pytest.importorskip("torch")
pytest.importorskip("onnxslim")


def test_export_from_wrapped_checkpoint(tmp_path, tiny_model, capsys):
    import onnx

    checkpoint = tmp_path / "checkpoint.pth.tar"
    torch.save({"state_dict": {"module." + k: v for k, v in tiny_model.state_dict().items()},
                "epoch": 1}, checkpoint)
    output = tmp_path / "tiny.onnx"
    assert main(["export", str(checkpoint), "-o", str(output), "--static", "256x320",
                 "--batch", "2", "--with-scales"]) == 0
    out = capsys.readouterr().out
    assert "w8-tiny SWAHR, 17 joints (coco), fp32, image 2x3x256x320" in out
    model = onnx.load(str(output))
    assert [o.name for o in model.graph.output] == ["heatmaps", "tags", "scales"]
    assert {p.name for p in tmp_path.iterdir()} == {"checkpoint.pth.tar", "tiny.onnx"}


def test_input_size_travels_in_the_metadata(tmp_path, tiny_checkpoint):
    """Weights fine-tuned at another resolution carry it to the runtime, which then resizes
    images to it by default (w8-tiny's own size is 256)."""
    pytest.importorskip("onnxruntime")
    from swahr_infer import Estimator

    default, fine_tuned = tmp_path / "default.onnx", tmp_path / "at320.onnx"
    assert main(["export", str(tiny_checkpoint), "-o", str(default)]) == 0
    assert main(["export", str(tiny_checkpoint), "-o", str(fine_tuned), "--input-size", "320"]) == 0
    assert Estimator(default, device="cpu").input_size == 256
    assert Estimator(fine_tuned, device="cpu").input_size == 320


def exported_input_size(path):
    import onnx

    props = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
    return json.loads(props["swahr.input_size"])


def test_input_size_comes_from_the_training_run(tmp_path, capsys):
    """A checkpoint of `swahr-infer train --input-size 64` exports at 64 (its run folder's
    config.json), not at the architecture's 256; --input-size still wins."""
    run = tmp_path / "run"
    assert main(["train", "--arch", "w8-tiny", "--input-size", "64", "--iters", "1",
                 "--batch-size", "1", "--people", "1,2", "--threads", "1", "--out", str(run),
                 "--no-progress"]) == 0
    capsys.readouterr()
    output = tmp_path / "m.onnx"
    assert main(["export", str(run / "model_final.pth"), "-o", str(output)]) == 0
    assert exported_input_size(output) == 64
    assert f"input size 64, from {run / 'config.json'}" in capsys.readouterr().out
    assert main(["export", str(run / "model_final.pth"), "-o", str(output),
                 "--input-size", "320"]) == 0
    assert exported_input_size(output) == 320
    assert "input size" not in capsys.readouterr().out
    # a config.json of another architecture is not this checkpoint's run: the default stands
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "arch": "w32"}))
    assert main(["export", str(run / "model_final.pth"), "-o", str(output)]) == 0
    assert exported_input_size(output) == 256
    assert "input size" not in capsys.readouterr().out


def test_default_output_name():
    from swahr_infer.cli.export import default_output

    assert default_output("/a/b/model.pth.tar").as_posix() == "/a/b/model.onnx"
    assert default_output("w32.pth", fp16=True).as_posix() == "w32_fp16.onnx"
    assert default_output("hrnet.w32.ckpt").as_posix() == "hrnet.w32.onnx"


def bad_inputs(tmp_path, tiny_checkpoint, tiny_model):
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(tiny_checkpoint.read_bytes()[:1000])
    text = tmp_path / "notes.pth"
    text.write_text("not a checkpoint\n")
    wrong = tmp_path / "wrong.pth"
    state = dict(tiny_model.state_dict())
    del state["layer1.0.conv1.weight"]
    torch.save(state, wrong)
    ok = str(tiny_checkpoint)
    out = str(tmp_path / "m.onnx")
    return {
        "missing file": ([str(tmp_path / "nope.pth"), "-o", out], "checkpoint not found"),
        "not a checkpoint": ([str(text), "-o", out], "not a readable PyTorch checkpoint"),
        "truncated": ([str(truncated), "-o", out], "empty or truncated"),
        "wrong keys": ([str(wrong), "-o", out], "1 missing: layer1.0.conv1.weight"),
        "unwritable output": ([ok, "-o", str(tiny_checkpoint / "m.onnx")], "cannot write"),
        "arch mismatch": ([ok, "-o", out, "--arch", "w48"], "does not fit architecture w48"),
        "bad input size": ([ok, "-o", out, "--input-size", "300"],
                           "input size must be a positive multiple of 32, got 300"),
    }


CASES = ["missing file", "not a checkpoint", "truncated", "wrong keys", "unwritable output",
         "arch mismatch", "bad input size"]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_one_line(case, tmp_path, tiny_checkpoint, tiny_model, capsys):
    argv, message = bad_inputs(tmp_path, tiny_checkpoint, tiny_model)[case]
    assert main(["export", *argv]) == 1
    err = last_lines(capsys.readouterr().err)
    assert len(err) == 1 and err[0].startswith("swahr-infer export: error: ")
    assert message in err[0]
    assert not (tmp_path / "m.onnx").exists()


def test_bad_input_subprocess_has_no_traceback(tmp_path, tiny_checkpoint, tiny_model):
    argv, message = bad_inputs(tmp_path, tiny_checkpoint, tiny_model)["truncated"]
    done = subprocess.run([sys.executable, "-m", "swahr_infer", "export", *argv],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert len(last_lines(done.stderr)) == 1 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_verbose_shows_the_exception(tmp_path):
    from swahr_infer.errors import CheckpointError

    with pytest.raises(CheckpointError):
        main(["--verbose", "export", str(tmp_path / "nope.pth")])


@pytest.mark.parametrize("option, message", [
    (["--static", "500x768"], "multiples of 32"),
    (["--static", "512"], "expected HxW"),
    (["--batch", "0"], "must be at least 1"),
])
def test_bad_options_are_usage_errors(option, message, tiny_checkpoint, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["export", str(tiny_checkpoint), *option])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["w32", "crowdpose-w48"])  # W48-COCO: benchmarks/export_time.py
def test_export_official_archs(arch, tmp_path, capsys):
    """Acceptance: a random-weight checkpoint of each official architecture exports."""
    import onnx

    from export.model import build_model

    checkpoint = tmp_path / f"{arch}.pth"
    torch.save(build_model(arch).state_dict(), checkpoint)
    output = tmp_path / f"{arch}.onnx"
    assert main(["export", str(checkpoint), "-o", str(output)]) == 0
    assert f"{arch} SWAHR" in capsys.readouterr().out
    model = onnx.load(str(output), load_external_data=False)
    joints = 14 if arch.startswith("crowdpose") else 17
    assert model.graph.output[0].type.tensor_type.shape.dim[1].dim_value == joints


def test_the_output_is_never_the_checkpoint(tmp_path, tiny_checkpoint, capsys):
    import shutil

    checkpoint = tmp_path / "weights.pth"
    shutil.copy(tiny_checkpoint, checkpoint)
    before = checkpoint.read_bytes()
    link = tmp_path / "link.pth"
    link.symlink_to(checkpoint)
    for output in (checkpoint, tmp_path / "." / "weights.pth", link):
        assert main(["export", str(checkpoint), "-o", str(output)]) == 1
        err = last_lines(capsys.readouterr().err)
        assert len(err) == 1 and "is the checkpoint being exported" in err[0]
    assert checkpoint.read_bytes() == before and link.is_symlink()


def test_output_folders_are_made_and_opsets_checked(tmp_path, tiny_checkpoint, capsys):
    nested = tmp_path / "new" / "sub" / "m.onnx"
    assert main(["export", str(tiny_checkpoint), "-o", str(nested)]) == 0
    assert nested.is_file()
    capsys.readouterr()
    from export.onnx_export import max_opset

    too_new = max_opset() + 1
    assert main(["export", str(tiny_checkpoint), "-o", str(tmp_path / "x.onnx"),
                 "--opset", str(too_new)]) == 1
    err = last_lines(capsys.readouterr().err)
    assert len(err) == 1 and f"opset {too_new} is newer than this PyTorch" in err[0]
    assert not (tmp_path / "x.onnx").exists()
