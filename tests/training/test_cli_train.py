"""``swahr-infer train``: bad options, --resume and existing run folders end in one line (exit 1),
and the progress bar follows the terminal (status lines elsewhere).  Real tiny runs (w8-tiny at 64, 1-2 iterations)."""

import json
import re

import pytest
import torch

from swahr_infer.cli import main

from .interrupt import interrupted_at

TINY = ["--arch", "w8-tiny", "--input-size", "64", "--iters", "1", "--batch-size", "1",
        "--people", "1,2", "--threads", "1", "--checkpoint-every", "1", "--log-every", "1"]


def error_lines(capsys):
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def one_line_error(capsys, *words):
    err = error_lines(capsys)
    assert len(err) == 1 and err[0].startswith("swahr-infer train: error: "), err
    for word in words:
        assert word in err[0], err[0]
    return err[0]


@pytest.mark.parametrize("option, message", [
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--people", "5,1"], "--people MIN,MAX needs 1 <= MIN <= MAX, got 5,1"),
    (["--people", "0"], "--people MIN,MAX needs 1 <= MIN <= MAX, got 0,0"),
    (["--lr", "-1"], "--lr must be a positive number, got -1.0"),
    (["--lr", "inf"], "--lr must be a positive number, got inf"),
    (["--sigma", "0"], "--sigma must be a positive number, got 0.0"),
    (["--iters", "0"], "--iters must be at least 1, got 0"),
    (["--iters", "-1"], "--iters must be at least 1, got -1"),
    (["--flip-prob", "2"], "--flip-prob must be in [0, 1], got 2.0"),
    (["--checkpoint-every", "-1"], "--checkpoint-every must be 0 (none) or more, got -1"),
    (["--log-every", "0"], "--log-every must be at least 1, got 0"),
    (["--workers", "-2"], "--workers must be -1 (automatic) or more, got -2"),
    (["--device", "gpu"], "--device must be auto, cpu, cuda or cuda:N, got 'gpu'"),
])
def test_bad_options_are_one_line_errors(option, message, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out), "--no-progress", *option]) == 1
    one_line_error(capsys, message)
    assert not out.exists()  # refused before anything was written


def test_cuda_device_without_cuda_is_a_one_line_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    out = tmp_path / "run"
    for device in ("cuda", "cuda:0"):
        assert main(["train", *TINY, "--out", str(out), "--device", device]) == 1
        one_line_error(capsys, f"--device {device}: no CUDA device")
    # --cuda-graphs on such a device: the device is what is wrong
    assert main(["train", *TINY, "--out", str(out), "--device", "cuda", "--cuda-graphs"]) == 1
    one_line_error(capsys, "no CUDA device")
    assert not out.exists()


def test_resume_without_a_saved_state_is_an_error(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--out", str(out), "--no-progress", "--resume"]) == 1
    one_line_error(capsys, str(out / "train_state.pth"), "does not exist")
    assert not (out / "model_final.pth").exists()


def test_resume_with_other_settings_is_refused_and_keeps_the_saved_config(tmp_path, capsys):
    out = tmp_path / "run"
    run = ["train", *TINY, "--iters", "2", "--out", str(out), "--no-progress"]
    with interrupted_at(1):  # stopped after its first iteration's checkpoint
        main(run)
    capsys.readouterr()
    saved = (out / "config.json").read_text()
    assert main([*run, "--resume", "--input-size", "128", "--no-augment", "--seed", "3"]) == 1
    line = one_line_error(capsys, "cannot resume", "input_size 128 (saved: 64)",
                          "augment False (saved: True)", "seed 3 (saved: 0)")
    assert "batch_size" not in line  # only the settings that differ
    assert (out / "config.json").read_text() == saved
    assert json.loads(saved)["input_size"] == 64
    # the same settings (another device spelling, thread count, logging) resume
    assert main([*run, "--resume", "--device", "cpu", "--threads", "2", "--log-every", "5"]) == 0
    assert "after 2 iterations" in capsys.readouterr().out
    # and a finished run has nothing left to resume
    assert main([*run, "--resume"]) == 1
    one_line_error(capsys, "its run finished (iteration 2 of 2)")


def test_an_existing_run_folder_needs_resume_or_overwrite(tmp_path, capsys):
    out, twin = tmp_path / "run", tmp_path / "twin"
    run = ["train", *TINY, "--out", str(out), "--no-progress"]
    assert main(run) == 0
    capsys.readouterr()
    log = (out / "log.jsonl").read_text()
    final = torch.load(out / "model_final.pth")
    assert main([*run, "--seed", "1"]) == 1
    one_line_error(capsys, f"{out} already holds a training run", "--resume", "--overwrite")
    assert (out / "log.jsonl").read_text() == log  # nothing was touched
    assert all(torch.equal(v, final[k]) for k, v in torch.load(out / "model_final.pth").items())
    assert main([*run, "--resume", "--overwrite"]) == 1
    one_line_error(capsys, "--resume", "--overwrite")
    # model_final.pth alone (a run folder copied without its state) is a run too
    (out / "train_state.pth").unlink()
    assert main([*run, "--seed", "1"]) == 1
    one_line_error(capsys, "model_final.pth", "--overwrite")
    # --overwrite starts it over, as before
    assert main([*run, "--seed", "1", "--overwrite"]) == 0
    assert not all(torch.equal(v, final[k])
                   for k, v in torch.load(out / "model_final.pth").items())
    assert json.loads((out / "config.json").read_text())["seed"] == 1
    # starting over removes the old run's checkpoints: none of them can pass for the new run's
    (out / "model_iter7.pth").write_bytes(b"an old run's checkpoint")
    assert main([*run, "--overwrite", "--checkpoint-every", "0"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.glob("*.pth")) == ["model_final.pth", "train_state.pth"]
    # the L2 twin's folder is protected the same way
    fresh = ["train", *TINY, "--out", str(tmp_path / "new"), "--no-progress"]
    assert main([*fresh, "--fixed-sigma-l2", "--out", str(twin)]) == 0
    capsys.readouterr()
    assert main([*fresh, "--l2-twin", str(twin)]) == 1
    one_line_error(capsys, f"{twin} already holds a training run")
    assert not (tmp_path / "new").exists()


def test_progress_bar_on_a_terminal_status_lines_elsewhere(tmp_path, capsys, monkeypatch):
    """tqdm draws on stderr; captured stderr is no terminal, so by default no bar (predict and
    eval decide the same way) but status lines, as in a log file under nohup; a bar when stderr
    says it is a terminal; status lines again with --no-progress."""
    three = [arg if arg != "1" or previous != "--iters" else "3"
             for previous, arg in zip([""] + TINY, TINY)]
    assert main(["train", *three, "--out", str(tmp_path / "a")]) == 0
    err = capsys.readouterr().err
    assert "%|" not in err  # no bar
    lines = [line for line in err.splitlines() if line.startswith("train w8-tiny: ")]
    assert [line.split(",")[0] for line in lines] == [  # every 5 % of 3 iterations: each one
        "train w8-tiny: 1/3 (33 %)", "train w8-tiny: 2/3 (66 %)", "train w8-tiny: 3/3 (100 %)"]
    # timed after the first; the time left in progress's units, none once done
    assert " s/it, " in lines[1] and re.search(r", \d+ s left$", lines[1])
    assert lines[-1].endswith(" s/it")
    with monkeypatch.context() as patch:
        patch.setattr("sys.stderr.isatty", lambda: True, raising=False)
        assert main(["train", *TINY, "--out", str(tmp_path / "b")]) == 0
        err = capsys.readouterr().err
        assert "train w8-tiny: 100%|" in err and "(100 %)" not in err  # the bar, alone
        assert main(["train", *TINY, "--out", str(tmp_path / "c"), "--no-progress"]) == 0
        err = capsys.readouterr().err
        assert "%|" not in err and "train w8-tiny: 1/1 (100 %), loss " in err


def test_people_type_error_reads_well(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--people", "a,b"])
    assert "invalid MIN,MAX value: 'a,b'" in capsys.readouterr().err


def test_run_folders_that_cannot_be_and_twin_rules_are_told_apart(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert main(["train", *TINY, "--out", str(afile), "--no-progress"]) == 1
    one_line_error(capsys, f"--out {afile}", "is a file")
    out = str(tmp_path / "run")
    assert main(["train", *TINY, "--out", out, "--l2-twin", out, "--no-progress"]) == 1
    one_line_error(capsys, "--l2-twin needs a folder of its own")
    assert main(["train", *TINY, "--out", out, "--l2-twin", str(tmp_path / "twin"),
                 "--fixed-sigma-l2", "--no-progress"]) == 1
    one_line_error(capsys, "drop --fixed-sigma-l2")


def test_fp32_is_recorded_and_trains_the_same_on_the_cpu(tmp_path):
    """--fp32 turns bf16 autocast off (it acts on CUDA only: the CPU trains in float32 anyway, so
    there the weights are the default run's), is saved in config.json, and a resumed run may
    change it (another GPU, one without bf16)."""
    assert main(["train", *TINY, "--out", str(tmp_path / "default"), "--no-progress"]) == 0
    assert main(["train", *TINY, "--fp32", "--out", str(tmp_path / "fp32"), "--no-progress"]) == 0
    assert json.loads((tmp_path / "default" / "config.json").read_text())["bf16"] is True
    assert json.loads((tmp_path / "fp32" / "config.json").read_text())["bf16"] is False
    a = torch.load(tmp_path / "default" / "model_final.pth")
    b = torch.load(tmp_path / "fp32" / "model_final.pth")
    assert all(torch.equal(a[k], b[k]) for k in a)
    from export.train import RESUMABLE_FIELDS

    assert "bf16" in RESUMABLE_FIELDS
