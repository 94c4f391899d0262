"""`swahr-infer bench` and the CLI's shared parsing: outputs checked before the run, sizes and
counts refused in one readable line, install hints that work, -v on either side of the
subcommand (QA findings; the real CLI, real files, the bundled model through ONNX Runtime)."""

import json

import onnxruntime
import pytest

from swahr_infer.benchmark import write_json
from swahr_infer.cli import build_parser, main

FAST = ["--size", "64x48", "--runs", "1", "--warmup", "0", "--no-memory", "--threads", "1"]


def _bench(tmp_path, *args):
    return main(["bench", *FAST, "--cache-dir", str(tmp_path / "cache"), *map(str, args)])


# -- defect 7: --json, write_json, --size --------------------------------------------------------

def test_json_naming_a_folder_fails_before_the_run(tmp_path, capsys):
    folder = tmp_path / "existing"
    folder.mkdir()
    assert _bench(tmp_path, "--json", folder) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"swahr-infer bench: error: --json {folder}: is a folder; "
                                    f"name the results file, e.g. {folder / 'results.json'}")
    assert "images/s" not in captured.out  # refused before measuring
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]  # no cache, no .partial


def test_empty_json_path_is_an_option_error(tmp_path, capsys):
    assert _bench(tmp_path, "--json", "") == 1
    assert capsys.readouterr().err.strip() == ("swahr-infer bench: error: --json: no file name "
                                               "given (an empty path or '.')")


def test_write_json_leaves_no_partial_file_when_it_fails(tmp_path):
    folder = tmp_path / "existing"
    folder.mkdir()
    with pytest.raises(OSError):
        write_json(folder, {"a": 1})
    with pytest.raises(TypeError):
        write_json(tmp_path / "b.json", {"a": object()})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing"]
    assert json.loads(write_json(tmp_path / "c.json", {"a": 1}).read_text()) == {"a": 1}


def test_absurd_sizes_are_refused(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--size", "100000x100000"])
    assert exit_info.value.code == 2
    assert ("argument --size: width and height must be at most 16384, got '100000x100000'"
            in capsys.readouterr().err)


# -- defect 9: readable type errors ----------------------------------------------------------

@pytest.mark.parametrize("option, value", [("--runs", "abc"), ("--warmup", "1.5"),
                                           ("--threads", "x"), ("--size", "axb")])
def test_type_errors_read_well(option, value, capsys):
    with pytest.raises(SystemExit):
        main(["bench", option, value])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line.startswith(f"swahr-infer bench: error: argument {option}: ")
    assert "parse" not in line and value in line


def test_every_type_callable_has_a_readable_name():
    """argparse names a type in "invalid <name> value" when it raises ValueError; none of the
    subcommands' types may be called after an inner function (``parse``)."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.choices and "bench" in a.choices)
    names = {}
    for command, sub in subparsers.choices.items():
        for action in sub._actions:
            if callable(action.type):
                names[f"{command} {action.option_strings or action.dest}"] = action.type.__name__
    assert names and not [k for k, name in names.items() if name in ("parse", "<lambda>")], names


# -- defect 4: onnxruntime-gpu ---------------------------------------------------------------

@pytest.mark.skipif("CUDAExecutionProvider" in onnxruntime.get_available_providers(),
                    reason="onnxruntime-gpu with CUDA is installed")
def test_device_cuda_without_onnxruntime_gpu_says_how_to_get_it(tmp_path, capsys):
    assert _bench(tmp_path, "--device", "cuda") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("swahr-infer bench: error: onnxruntime-gpu (with CUDA) is required")
    assert "pip install onnxruntime-gpu" in err and "swahr-infer[gpu]" not in err


# -- defect 8: -v before or after the subcommand -----------------------------------------------

@pytest.mark.parametrize("argv", [["-v", "bench"], ["bench", "-v"], ["bench", "--verbose"],
                                  ["--verbose", "bench", "-v"]])
def test_verbose_on_either_side(argv):
    assert build_parser().parse_args(argv).verbose is True


def test_verbose_after_the_subcommand_only_when_given():
    assert build_parser().parse_args(["bench"]).verbose is False


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_after_the_subcommand_shows_tracebacks(tmp_path, where):
    """-v turns the one-line error into the exception itself, wherever it is written."""
    folder = tmp_path / "existing"
    folder.mkdir()
    args = ["bench", "--json", str(folder)]
    args = ["-v", *args] if where == "before" else [*args, "-v"]
    with pytest.raises(Exception, match="is a folder"):
        main(args)
