"""`swahr-infer build` / `trtexec`: bad model files, bad options and missing NVIDIA tools give one
line each (QA findings).  Real files and real ONNX Runtime sessions; TensorRT and trtexec are
not installed on the build machines, so there the missing-dependency messages themselves are
tested."""

import shutil

import pytest

from swahr_infer.cli import main
from swahr_infer.errors import ModelError
from swahr_infer.metadata import read_onnx_props
from tests.runtime.tiny_model import build_tiny_model


def _has_tensorrt():
    try:
        import tensorrt
    except ImportError:
        return False
    return hasattr(tensorrt, "Builder")


no_tensorrt = pytest.mark.skipif(_has_tensorrt(), reason="tensorrt is installed")
no_trtexec = pytest.mark.skipif(shutil.which("trtexec") is not None, reason="trtexec is on PATH")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("m") / "tiny.onnx")


def _one_error_line(capsys, command):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"swahr-infer {command}: error: "), err
    return err[0]


# -- defect 3: a missing or non-ONNX model file --------------------------------------------------

@pytest.mark.parametrize("command", ["build", "trtexec"])
def test_a_missing_model_is_one_line(command, tmp_path, capsys):
    missing = tmp_path / "nope.onnx"
    extra = ["-o", str(tmp_path / "x.engine")] if command == "build" else []
    assert main([command, str(missing), *extra]) == 1
    assert _one_error_line(capsys, command).endswith(f"{missing}: no such model file")


@pytest.mark.parametrize("command", ["build", "trtexec"])
def test_a_file_that_is_not_onnx_is_one_line(command, tmp_path, capsys):
    picture = tmp_path / "some.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n not really a picture either")
    extra = ["-o", str(tmp_path / "x.engine")] if command == "build" else []
    assert main([command, str(picture), *extra]) == 1
    assert f"{picture}: not an ONNX model ONNX Runtime can load" in _one_error_line(capsys,
                                                                                   command)


def test_read_onnx_props_raises_model_errors(tmp_path, tiny):
    with pytest.raises(ModelError, match="no such model file"):
        read_onnx_props(str(tmp_path / "missing.onnx"))
    with pytest.raises(ModelError, match="a folder, not a model file"):
        read_onnx_props(str(tmp_path))
    (tmp_path / "text.onnx").write_text("hello")
    with pytest.raises(ModelError, match="not an ONNX model"):
        read_onnx_props(str(tmp_path / "text.onnx"))
    assert any(key.startswith("swahr.") for key in read_onnx_props(str(tiny)))


def test_no_metadata_message_speaks_to_both_audiences(tmp_path, capsys):
    bare = build_tiny_model(tmp_path / "bare.onnx", with_metadata=False)
    assert main(["trtexec", str(bare)]) == 1
    line = _one_error_line(capsys, "trtexec")
    assert "has no swahr-infer metadata: re-export it with `swahr-infer export`" in line
    assert "in Python, pass a ModelInfo" in line and "explicitly" not in line


# -- defect 4: install hints that work -----------------------------------------------------------

@no_tensorrt
def test_build_without_tensorrt_says_how_to_get_it(tiny, tmp_path, capsys):
    assert main(["build", str(tiny), "-o", str(tmp_path / "x.engine")]) == 1
    line = _one_error_line(capsys, "build")
    assert "is required for TensorRT engines" in line
    assert "pip install tensorrt" in line and "JetPack" in line
    assert "swahr-infer[gpu]" not in line


@no_trtexec
def test_trtexec_run_without_trtexec_says_where_it_comes_from(tiny, capsys):
    assert main(["trtexec", str(tiny), "--run"]) == 1
    err = capsys.readouterr().err
    assert "trtexec (NVIDIA TensorRT) is required for --run" in err
    assert "/usr/src/tensorrt/bin/trtexec" in err and "PATH" in err
    assert "swahr-infer[gpu]" not in err


# -- defect 5: trtexec options ---------------------------------------------------------------

PROFILE = ["--min", "1x3x256x256", "--opt", "2x3x512x768", "--max", "2x3x1024x1024"]


def test_a_valid_profile_is_printed(tiny, capsys):
    assert main(["trtexec", str(tiny), "--trt-version", "10.3", *PROFILE]) == 0
    out = capsys.readouterr().out
    assert "--minShapes=image:1x3x256x256" in out and "--maxShapes=image:2x3x1024x1024" in out


@pytest.mark.parametrize("args, message", [
    (["--trt-version", "abc"], "--trt-version 'abc': not a TensorRT version"),
    (["--min", "1x3x256x256"], "--min, --opt and --max go together"),
    (["--min", "1x3x256x256", "--opt", "2x3x512x768", "--max", "1x3x128x128"],
     "--max 1x3x128x128 is smaller than --min 1x3x256x256"),
    (["--min", "1x3x256x256", "--opt", "2x3x512x768", "--max", "2x3x384x384"],
     "--opt 2x3x512x768 lies outside --min 1x3x256x256 .. --max 2x3x384x384"),
    (["--json", "out.json"], "--json needs --run"),
])
def test_bad_trtexec_options_are_one_line(tiny, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["trtexec", str(tiny), *args]) == 1
    assert message in _one_error_line(capsys, "trtexec")
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("shape, message", [
    ("1x3x100x100", "H and W must be multiples of 32"),
    ("1x4x256x256", "C must be 3"),
    ("1x3x256", "expected NxCxHxW"),
])
def test_impossible_shapes_are_refused(tiny, capsys, shape, message):
    with pytest.raises(SystemExit) as exit_info:
        main(["trtexec", str(tiny), "--min", shape, "--opt", "2x3x512x768",
              "--max", "2x3x1024x1024"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert f"argument --min: {message}" in err


def test_json_with_run_is_checked_before_running(tiny, tmp_path, capsys):
    folder = tmp_path / "existing"
    folder.mkdir()
    assert main(["trtexec", str(tiny), "--run", "--json", str(folder)]) == 1
    assert f"--json {folder}: is a folder" in _one_error_line(capsys, "trtexec")


def test_help_says_it_runs_only_with_run(capsys):
    with pytest.raises(SystemExit):
        main(["trtexec", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "when trtexec is on PATH" not in text
    assert "with --run, also run it" in text and "with --run: write the parsed summary" in text


# -- build: the profile rule it shares with trtexec, and the defaults in its help ------------------

def test_build_refuses_an_unordered_profile_before_tensorrt(tiny, tmp_path, capsys):
    assert main(["build", str(tiny), "-o", str(tmp_path / "x.engine"), "--min", "512x512",
                 "--max", "256x256"]) == 1
    assert "is smaller than --min" in _one_error_line(capsys, "build")


# -- models exported with --static / --batch: fixed dimensions stay fixed -------------------------

@pytest.fixture(scope="module")
def static(tmp_path_factory):
    """What `export --static 256x384 --batch 2` makes: every input dimension fixed."""
    return build_tiny_model(tmp_path_factory.mktemp("s") / "static.onnx",
                            static_shape=(2, 3, 256, 384))


def test_trtexec_gives_a_static_model_no_shape_flags(static, capsys):
    assert main(["trtexec", str(static), "--trt-version", "10.3"]) == 0
    out = capsys.readouterr().out
    assert f"--onnx={static}" in out and "Shapes=" not in out and "--shapes" not in out


@pytest.mark.parametrize("command, args, message", [
    ("build", ["--batch", "1"], "--batch 1: {m} has its batch fixed at 2 (input 2x3x256x384)"),
    ("build", ["--min", "256x256"], "--min 256x256: {m} has a fixed input of 256x384"),
    ("trtexec", PROFILE, "--min 1x3x256x256: {m} has fixed input dimensions (2x3x256x384"),
])
def test_a_profile_over_fixed_dimensions_is_refused_before_tensorrt(static, tmp_path, capsys,
                                                                     command, args, message):
    extra = ["-o", str(tmp_path / "x.engine")] if command == "build" else []
    assert main([command, str(static), *extra, *args]) == 1
    assert message.format(m=static) in _one_error_line(capsys, command)


@no_tensorrt
def test_build_of_a_static_model_gets_as_far_as_tensorrt(static, tmp_path, capsys):
    """No flags: the default profile is pinned to the model's shape instead of being refused."""
    assert main(["build", str(static), "-o", str(tmp_path / "x.engine")]) == 1
    assert "is required for TensorRT engines" in _one_error_line(capsys, "build")


def test_build_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["build", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "max batch (default 2" in text and "workspace in MB (default 4096)" in text



# -- a failing trtexec, and an -o that cannot be written ------------------------------------------

def test_a_failing_run_is_a_tool_error_with_the_log_tail():
    """trtexec.run on a real process that fails (a Python one here: trtexec is not installed):
    a ToolError, which the command line prints as an error, not a traceback."""
    import sys

    from swahr_infer import trtexec
    from swahr_infer.errors import ToolError

    with pytest.raises(ToolError, match="exit code 3:\nparse failed"):
        trtexec.run([sys.executable, "-c", "import sys; print('parse failed'); sys.exit(3)"])


def test_build_output_under_a_file_is_refused_before_building(tiny, tmp_path, capsys):
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    assert main(["build", str(tiny), "-o", str(blocker / "model.engine")]) == 1
    assert "cannot be created" in _one_error_line(capsys, "build")

