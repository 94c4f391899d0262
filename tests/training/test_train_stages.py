"""scripts/train_stages.sh: the ablation is matched only if each stage repeats the shipped model's
documented arguments, so its stage table is checked against benchmarks/model_report.md's
commands, and two real stages (1 and 2 iterations) show the chaining: each stage starts from the
previous stage's weights, with the L2 flag, and its weights are copied out."""

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "train_stages.sh"
KEYS = ("--input-size", "--iters", "--batch-size", "--seed", "--lr")


def stages(**env):
    return subprocess.run(["bash", str(SCRIPT)], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "PYTHON": sys.executable, **env}, timeout=600)


def options(command):
    words = shlex.split(command)
    picked = {k: words[words.index(k) + 1] for k in KEYS if k in words}
    picked.setdefault("--lr", "1e-3")  # the trainer's default peak rate
    return {k: float(v) for k, v in picked.items()}


def documented_stages():
    """The shipped model's eight `swahr-infer train` commands, in the report's order."""
    block = (ROOT / "benchmarks" / "model_report.md").read_text().split("```bash", 1)[1]
    block = block.split("```", 1)[0].replace("\\\n", " ")
    return [line.split("swahr-infer", 1)[1] for line in block.splitlines()
            if re.search(r"(^|\s)swahr-infer train ", line)]


def test_stage_table_repeats_the_shipped_models_commands():
    documented = documented_stages()
    assert len(documented) == 8
    run = stages(DRY_RUN="1", ARM="swahr", FROM="1", TO="8")
    assert run.returncode == 0, run.stderr
    printed = [line.split(": ", 1)[1] for line in run.stdout.splitlines() if line.startswith("stage ")]
    assert len(printed) == 8
    for k, (ours, theirs) in enumerate(zip(printed, documented), start=1):
        assert options(ours) == options(theirs), f"stage {k}"
        assert ("--init" in ours) == (k > 1), f"stage {k}"


def test_bad_arm_and_missing_start_are_refused_before_training(tmp_path):
    run = stages(ARM="hm")
    assert run.returncode == 2 and "ARM must be swahr or l2" in run.stderr
    run = stages(ARM="l2", FROM="5", RUNS=str(tmp_path))
    assert run.returncode == 2 and "no weights to start stage 5" in run.stderr
    assert not any(tmp_path.iterdir())


def test_two_real_stages_chain_their_weights(tmp_path):
    torch = pytest.importorskip("torch")
    runs, out = tmp_path / "runs", tmp_path / "out"
    run = stages(ARM="l2", FROM="1", TO="2", RUNS=str(runs), OUT=str(out), ITERS_SCALE="1600",
                 CHECKPOINT_EVERY="0")
    assert run.returncode == 0, run.stdout + run.stderr
    first, second = runs / "w16-small-l2-stage1", runs / "w16-small-l2-stage2"
    config = json.loads((second / "config.json").read_text())
    assert config["init"] == str(first / "model_final.pth")
    assert (config["seed"], config["iters"], config["fixed_sigma_l2"]) == (1, 2, True)
    assert sorted(p.name for p in out.iterdir()) == ["l2_stage1.pth", "l2_stage2.pth", "stages_l2.txt"]
    a = torch.load(out / "l2_stage1.pth", map_location="cpu")
    b = torch.load(out / "l2_stage2.pth", map_location="cpu")
    a, b = (x.get("state_dict", x) for x in (a, b))
    assert a.keys() == b.keys()
    assert any(not torch.equal(a[k], b[k]) for k in a if a[k].is_floating_point())
    log = (out / "stages_l2.txt").read_text()
    assert "stage 2: rc 0" in log
    assert "train w16-small: 2/2 (100 %), loss " in log  # the trainer's status lines come along
    # RESUME=1 continues stage FROM's own run instead of starting it over: a finished one is left be
    before = (second / "model_final.pth").read_bytes()
    again = stages(ARM="l2", FROM="2", TO="2", RUNS=str(runs), ITERS_SCALE="1600",
                   CHECKPOINT_EVERY="0", RESUME="1")
    assert again.returncode != 0 and "its run finished" in again.stdout + again.stderr
    assert (second / "model_final.pth").read_bytes() == before
