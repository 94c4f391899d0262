"""Training: a real two-iteration run of the tiny architecture, checkpoints, determinism, CLI."""

import builtins
import json
import math
import pathlib
import re
import types

import numpy as np
import pytest
import torch

from export.model import build_model, get_arch
from export.train import SyntheticBatches, TrainConfig, learning_rate, make_batch, train
from swahr_infer.cli import main as cli_main
from swahr_infer.errors import MissingDependencyError, OptionError

from .interrupt import interrupted_at


def tiny_config(tmp_path, **kw):
    base = dict(arch="w8-tiny", iters=2, batch_size=2, input_size=64, out_dir=str(tmp_path),
                log_every=1, checkpoint_every=1, threads=1, progress=False, people=(1, 3))
    base.update(kw)
    return TrainConfig(**base)


def test_two_iterations_write_loadable_checkpoints(tmp_path):
    threads = torch.get_num_threads()
    result = train(tiny_config(tmp_path, threads=threads + 1))
    assert torch.get_num_threads() == threads  # restored after the run
    assert result.iterations == 2 and all(math.isfinite(v) for v in result.losses.values())
    assert {"heatmap0", "heatmap1", "scale0", "scale1", "push0", "pull0"} <= set(result.losses)
    final = torch.load(result.checkpoint)
    model = build_model("w8-tiny")
    assert set(final) == set(model.state_dict())  # official key names, no prefix
    model.load_state_dict(final, strict=True)
    assert (tmp_path / "model_iter1.pth").exists() and (tmp_path / "train_state.pth").exists()
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert [json.loads(line)["iter"] for line in lines] == [1, 2]
    assert json.loads((tmp_path / "config.json").read_text())["arch"] == "w8-tiny"
    assert not torch.equal(torch.load(tmp_path / "model_iter1.pth")["final_layers.1.weight"],
                           final["final_layers.1.weight"])  # it learned something


def test_cpu_runs_are_reproducible_resumable_and_seeded(tmp_path):
    one = torch.load(train(tiny_config(tmp_path / "a", iters=1)).checkpoint)
    straight = train(tiny_config(tmp_path / "b", iters=2, checkpoint_every=1))
    after_one = torch.load(tmp_path / "b" / "model_iter1.pth")
    assert all(torch.equal(one[k], after_one[k]) for k in one)  # same seed, same weights
    with interrupted_at(1):
        train(tiny_config(tmp_path / "r"))
    assert torch.load(tmp_path / "r" / "train_state.pth")["iteration"] == 1
    with open(tmp_path / "r" / "log.jsonl", "a") as log:  # killed after logging past its state,
        log.write(json.dumps({"iter": 2, "total": 1.0}) + '\n{"iter": 3, "to')  # mid-line
    resumed = train(tiny_config(tmp_path / "r"), resume=True)
    assert resumed.iterations == 2
    logged = [json.loads(line) for line in (tmp_path / "r" / "log.jsonl").read_text().splitlines()]
    assert [entry["iter"] for entry in logged] == [1, 2]  # each iteration once, in order
    assert logged[1]["total"] != 1.0  # the resumed run's own line, not the killed run's
    a, b = torch.load(resumed.checkpoint), torch.load(straight.checkpoint)
    assert all(torch.equal(a[k], b[k]) for k in a)  # resuming continues the same run exactly
    other = torch.load(train(tiny_config(tmp_path / "c", iters=1, seed=1)).checkpoint)
    assert not all(torch.equal(one[k], other[k]) for k in one)


def test_a_run_killed_while_saving_keeps_its_last_state_and_resumes_exactly(tmp_path, monkeypatch):
    straight = torch.load(train(tiny_config(tmp_path / "s")).checkpoint)
    with interrupted_at(1):
        train(tiny_config(tmp_path / "r"))
    real_save = torch.save

    def dies_while_writing_the_state(obj, path, *args, **kwargs):
        if "train_state" in str(path):
            with open(path, "wb") as f:
                f.write(b"half a checkpoint")  # as a run killed mid-write leaves its file
            raise KeyboardInterrupt
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", dies_while_writing_the_state)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tmp_path / "r"), resume=True)
    monkeypatch.undo()
    assert torch.load(tmp_path / "r" / "train_state.pth")["iteration"] == 1  # still whole
    resumed = torch.load(train(tiny_config(tmp_path / "r"), resume=True).checkpoint)
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    assert not list((tmp_path / "r").glob("*.partial"))  # the finished save left no leftovers


def test_l2_twin_is_the_separate_l2_run_trained_on_the_same_batches(tmp_path, capsys):
    paired = train(tiny_config(tmp_path / "swahr", l2_twin_dir=str(tmp_path / "l2")))
    alone_swahr = torch.load(train(tiny_config(tmp_path / "a")).checkpoint)
    alone_l2 = torch.load(train(tiny_config(tmp_path / "b", fixed_sigma_l2=True)).checkpoint)
    twin, own = torch.load(paired.twin.checkpoint), torch.load(paired.checkpoint)
    # bit for bit what two separate runs give: same init, same batches, neither arm touches the other
    assert all(torch.equal(twin[k], alone_l2[k]) for k in twin)
    assert all(torch.equal(own[k], alone_swahr[k]) for k in own)
    assert not all(torch.equal(twin[k], own[k]) for k in own)  # and the objectives differ
    assert json.loads((tmp_path / "l2" / "config.json").read_text())["fixed_sigma_l2"] is True
    assert (tmp_path / "l2" / "model_iter1.pth").exists()
    assert "scale0" in paired.losses and "scale0" not in paired.twin.losses
    # resuming an interrupted pair continues both, exactly
    pair = tiny_config(tmp_path / "p", l2_twin_dir=str(tmp_path / "p_l2"))
    with interrupted_at(1):
        train(pair)
    resumed = train(pair, resume=True)
    assert resumed.iterations == resumed.twin.iterations == 2
    for a, b in ((resumed, paired), (resumed.twin, paired.twin)):
        wa, wb = torch.load(a.checkpoint), torch.load(b.checkpoint)
        assert all(torch.equal(wa[k], wb[k]) for k in wa)
    with pytest.raises(ValueError, match="own directory"):
        train(tiny_config(tmp_path / "c", l2_twin_dir=str(tmp_path / "c")))
    rc = cli_main(["train", "--arch", "w8-tiny", "--iters", "1", "--batch-size", "1",
                   "--input-size", "64", "--threads", "1", "--out", str(tmp_path / "d"),
                   "--l2-twin", str(tmp_path / "e"), "--no-progress", "--people", "1,2"])
    assert rc == 0 and (tmp_path / "e" / "model_final.pth").exists()
    assert "L2 twin" in capsys.readouterr().out
    assert cli_main(["train", "--fixed-sigma-l2", "--l2-twin", str(tmp_path / "f"),
                     "--out", str(tmp_path / "g")]) == 1


@pytest.mark.parametrize("field, value, message", [
    ("iters", 0, "--iters must be at least 1"),
    ("iters", -1, "--iters must be at least 1"),
    ("batch_size", 0, "--batch-size must be at least 1"),
    ("people", (5, 1), "--people MIN,MAX needs 1 <= MIN <= MAX, got 5,1"),
    ("people", (0, 2), "--people"),
    ("lr", -1.0, "--lr must be a positive number"),
    ("lr", float("nan"), "--lr must be a positive number"),
    ("sigma", 0.0, "--sigma must be a positive number"),
    ("flip_prob", 2.0, "--flip-prob must be in [0, 1]"),
    ("checkpoint_every", -1, "--checkpoint-every"),
    ("log_every", 0, "--log-every must be at least 1"),
    ("max_people", 0, "max_people must be at least 1"),
    ("input_size", 100, "--input-size must be a positive multiple of 32"),
    ("device", "gpu", "--device must be auto, cpu, cuda or cuda:N"),
    ("workers", -2, "--workers"),
])
def test_invalid_configs_are_option_errors_before_anything_is_written(tmp_path, field, value,
                                                                      message):
    cfg = tiny_config(tmp_path / "run", **{field: value})
    with pytest.raises(OptionError, match=re.escape(message)):
        train(cfg)
    assert not (tmp_path / "run").exists()
    assert isinstance(OptionError(""), ValueError)  # what API callers catching ValueError get


def test_cuda_device_without_cuda_is_an_option_error(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        with pytest.raises(OptionError, match=f"--device {device}: no CUDA device"):
            train(tiny_config(tmp_path / "run", device=device))
    assert not (tmp_path / "run").exists()


def test_resume_needs_the_saved_state_and_the_same_configuration(tmp_path):
    with pytest.raises(OptionError, match="cannot resume: .*train_state.pth does not exist"):
        train(tiny_config(tmp_path / "none"), resume=True)
    assert not (tmp_path / "none" / "model_final.pth").exists()
    run = tmp_path / "run"
    with interrupted_at(1):
        train(tiny_config(run))
    saved = (run / "config.json").read_text()
    for changed in (dict(input_size=128), dict(arch="w16-small"), dict(batch_size=1),
                    dict(seed=1), dict(iters=3), dict(lr=1e-2), dict(sigma=3.0),
                    dict(people=(1, 2)), dict(fixed_sigma_l2=True), dict(augment=False),
                    dict(flip_prob=0.0), dict(init=str(run / "model_iter1.pth"))):
        name = next(iter(changed))
        with pytest.raises(OptionError, match=f"cannot resume .*: .*{name} .*saved"):
            train(tiny_config(run, **changed), resume=True)
    with pytest.raises(OptionError, match=r"input_size 128 \(saved: 64\), seed 1 \(saved: 0\)"):
        train(tiny_config(run, input_size=128, seed=1), resume=True)
    assert (run / "config.json").read_text() == saved  # the saved run's settings are kept
    assert torch.load(run / "train_state.pth")["iteration"] == 1
    # the L2 twin's state must be there too
    with pytest.raises(OptionError, match="twin.*train_state.pth does not exist"):
        train(tiny_config(run, l2_twin_dir=str(tmp_path / "twin")), resume=True)
    # where it runs and how it reports may change
    resumed = train(tiny_config(run, threads=2, log_every=2, checkpoint_every=0, workers=0,
                                device="cpu"), resume=True)
    assert resumed.iterations == 2
    # a finished run has nothing left to resume (it would re-save its weights and log a nan loss)
    with pytest.raises(OptionError, match="its run finished \\(iteration 2 of 2\\)"):
        train(tiny_config(run), resume=True)


def test_resume_takes_the_init_checkpoint_by_file_not_by_spelling(tmp_path):
    first = train(tiny_config(tmp_path / "a", iters=1)).checkpoint
    stage = tmp_path / "b"
    with interrupted_at(1):
        train(tiny_config(stage, seed=1, init=first))
    spelled_otherwise = str(tmp_path / "a" / ".." / "a" / "model_final.pth")
    assert train(tiny_config(stage, seed=1, init=spelled_otherwise), resume=True).iterations == 2


def test_init_warm_starts_from_weights_with_a_fresh_schedule(tmp_path, capsys):
    first = train(tiny_config(tmp_path / "a", iters=1)).checkpoint
    stage = tiny_config(tmp_path / "b", iters=1, seed=1, init=first, checkpoint_every=0)
    # the model starts from the first run's weights, not from the seed's initialisation
    from export.train import _setup

    model, optimizer, _, start = _setup(stage, torch.device("cpu"), resume=False)
    loaded = torch.load(first)
    assert start == 0 and not optimizer.state
    assert all(torch.equal(v, loaded[k]) for k, v in model.state_dict().items())
    second = torch.load(train(stage).checkpoint)
    assert not torch.equal(second["final_layers.1.weight"], loaded["final_layers.1.weight"])
    # the wrong architecture is refused with the checkpoint named
    rc = cli_main(["train", "--arch", "w16-small", "--iters", "1", "--input-size", "64",
                   "--init", first, "--out", str(tmp_path / "c"), "--no-progress"])
    assert rc == 1 and "model_final.pth" in capsys.readouterr().err


def test_input_size_defaults_to_the_architecture():
    assert TrainConfig(arch="w8-tiny").resolved().input_size == get_arch("w8-tiny").input_size
    assert TrainConfig(arch="w8-tiny", input_size=96).resolved().input_size == 96


def test_batches_are_a_function_of_seed_and_index():
    cfg = TrainConfig(batch_size=2, input_size=64, people=(1, 2))
    one, again, other = make_batch(cfg, 3), make_batch(cfg, 3), make_batch(cfg, 4)
    assert np.array_equal(one["images"], again["images"])
    assert not np.array_equal(one["images"], other["images"])
    assert one["images"].shape == (2, 3, 64, 64) and one["images"].dtype == np.float32
    assert [h.shape for h in one["heatmaps"]] == [(2, 17, 16, 16), (2, 17, 32, 32)]
    assert [m.shape for m in one["masks"]] == [(2, 16, 16), (2, 32, 32)]
    assert one["indices"][0].shape == (2, 30, 17, 2)


def test_workers_start_in_a_process_that_already_used_opencv(tmp_path):
    """A process that made a batch (OpenCV's thread pool running) and then trains with data
    workers: forked workers that reset OpenCV's threads themselves hung there for good (seen on
    an H200 under pytest, 2026-11-27; the same on this CPU).  A fresh interpreter, so that the
    state is the one a user's script or notebook has, and a time limit instead of a hang."""
    import subprocess
    import sys

    script = (
        "import cv2, numpy as np\n"
        "from export.train import TrainConfig, make_batch, train\n"
        "cfg = dict(arch='w8-tiny', batch_size=2, input_size=64, people=(1, 3))\n"
        "make_batch(TrainConfig(**cfg), 0)\n"
        "cv2.resize(np.ones((1500, 1500), np.float32), (2000, 2000))  # the pool, surely\n"
        f"r = train(TrainConfig(**cfg, iters=3, workers=2, threads=1, log_every=1, "
        f"checkpoint_every=0, progress=False, out_dir={str(tmp_path / 'run')!r}))\n"
        "print('iterations', r.iterations, 'cv2 threads', cv2.getNumThreads())\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=str(pathlib.Path(__file__).resolve().parents[2]))
    assert done.returncode == 0, done.stderr[-2000:]
    iterations, threads = done.stdout.split()[1], int(done.stdout.split()[4])
    assert iterations == "3" and threads == cv2_threads_default()  # OpenCV's setting restored


def cv2_threads_default() -> int:
    """What a fresh interpreter's OpenCV uses (the trainer must leave it so)."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import cv2; print(cv2.getNumThreads())"],
                         capture_output=True, text=True, timeout=60)
    return int(out.stdout)


def test_data_workers_hand_back_the_same_batches_in_order():
    cfg = TrainConfig(batch_size=1, input_size=64, people=(1, 2))
    inline = list(torch.utils.data.DataLoader(SyntheticBatches(cfg, 2, 5), batch_size=None))
    workers = list(torch.utils.data.DataLoader(SyntheticBatches(cfg, 2, 5), batch_size=None,
                                               num_workers=2))
    assert len(inline) == len(workers) == 3
    for a, b in zip(inline, workers):
        assert torch.equal(a["images"], b["images"])
        assert all(torch.equal(x, y) for x, y in zip(a["heatmaps"], b["heatmaps"]))
    assert torch.equal(inline[0]["images"], torch.from_numpy(make_batch(cfg, 2)["images"]))


def test_learning_rate_schedule_warms_up_then_decays_to_zero():
    cfg = TrainConfig(iters=1000, lr=1e-3, warmup_frac=0.01)
    assert math.isclose(learning_rate(cfg, 0), 1e-4)
    assert math.isclose(learning_rate(cfg, 5), 1e-4 + 0.9e-3 * 0.5)
    assert math.isclose(learning_rate(cfg, 10), 1e-3)
    assert math.isclose(learning_rate(cfg, 505), 0.5e-3)
    assert learning_rate(cfg, 1000) == 0


def test_cli_train_runs_and_rejects_bad_options(tmp_path, capsys):
    out = tmp_path / "cli"
    rc = cli_main(["train", "--arch", "w8-tiny", "--iters", "1", "--batch-size", "1",
                   "--input-size", "64", "--threads", "1", "--out", str(out), "--no-progress",
                   "--fixed-sigma-l2", "--people", "1,2"])
    assert rc == 0 and (out / "model_final.pth").exists()
    printed = capsys.readouterr().out
    # one iteration is warm-up only: no speed to report, and no "nan s/iter" either
    assert "wrote" in printed and "speed not measured" in printed and "nan" not in printed
    config = json.loads((out / "config.json").read_text())
    assert config["fixed_sigma_l2"] is True and config["input_size"] == 64
    assert cli_main(["train", "--arch", "nope", "--out", str(tmp_path / "x")]) == 1
    assert cli_main(["train", "--input-size", "100", "--out", str(tmp_path / "y")]) == 1
    assert "multiple of 32" in capsys.readouterr().err


def test_cli_train_without_torch_names_the_extra(monkeypatch):
    from swahr_infer.cli import train as train_cli

    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_torch)
    with pytest.raises(MissingDependencyError) as info:
        train_cli.run(types.SimpleNamespace())
    assert info.value.extra == "export" and "swahr-infer[export]" in str(info.value)
