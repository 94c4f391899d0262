"""Train a SWAHR / HigherHRNet model from scratch on synthetic people (needs PyTorch).

Samples are drawn on the fly by export.synthetic_people (articulated figures, 1-6 per image,
30 px to frame-high, overlapping, cluttered backgrounds) and trained with the official SWAHR
objectives: scale-adaptive heatmap targets, weight-adaptive loss, scale regulariser and
associative-embedding push/pull on the stage-0 tags (official COCO W32 loss factors), Adam with
the official warm-up and linear decay.  CUDA is used when available (bf16 autocast), else the CPU.

Writes OUT/model_final.pth (and OUT/model_iter<N>.pth every --checkpoint-every iterations):
state dicts with the official key names, ready for `swahr-infer export`.  A run is a function
of its arguments: batch b is drawn from (seed, b), so --seed fixes the data; on the CPU with a
fixed --threads the weights are reproducible too.

--input-size defaults to the architecture's test-time input size (the one the exported model's
metadata carries), so the model is trained at the scale it will run at; `swahr-infer export`
reads another size from OUT/config.json.

A run folder is not overwritten by accident: where OUT already holds a run (train_state.pth or
model_final.pth), add --resume to continue it or --overwrite to start it over.  --resume needs
OUT/train_state.pth (and with --l2-twin DIR, DIR/train_state.pth) and the saved run's settings:
only --device, --workers, --threads, --checkpoint-every, --log-every, --no-progress and
--cuda-graphs may change.
The progress bar is drawn when stderr is a terminal; otherwise (a log file, nohup) or with
--no-progress a status line (iteration, loss, time per iteration, time left) is printed about
every 5 % of the run.

Example (a small model like the bundled one, in one stage; the bundled model's own eight-stage
recipe is scripts/train_stages.sh, see benchmarks/model_report.md; on a 2-core CPU a batch-32
iteration of w16-small takes seconds):
  swahr-infer train --arch w16-small --iters 1200 --batch-size 32 --out runs/w16-small
  swahr-infer export runs/w16-small/model_final.pth -o w16-small.onnx
Ablation for comparison (HigherHRNet's fixed-sigma L2 instead of SAHR/WAHR): add --fixed-sigma-l2,
or train it beside the SWAHR run on the very same batches, drawn once (the data is made once for
both; each arm still takes its own steps): add --l2-twin runs/w16-small-l2.
On a GPU, --cuda-graphs replays each step from a CUDA graph (same batches and schedule; for
small models, whose steps are thousands of small kernels the host would issue one by one).
A second stage from trained weights (fresh Adam and schedule; another seed, so other batches):
  swahr-infer train --arch w16-small --init runs/w16-small/model_final.pth --seed 1 --out runs/stage2
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path

from .args import check_folder_can_exist

HELP = "train a SWAHR model on synthetic people (PyTorch)"


def _pair(text: str):
    lo, _, hi = text.partition(",")
    return int(lo), int(hi or lo)


_pair.__name__ = "MIN,MAX"  # argparse says "invalid MIN,MAX value: ..." for a bad --people


def add_arguments(p) -> None:
    p.add_argument("--arch", default="w16-small",
                   help="architecture from export.model.ARCHS (w8-tiny, w16-small, w32, ...)")
    p.add_argument("--iters", type=int, default=1000, help="training iterations (batches)")
    p.add_argument("--batch-size", type=int, default=8, help="images per iteration")
    p.add_argument("--input-size", type=int, default=0,
                   help="square input side, a multiple of 32 (default: the architecture's test-time "
                        "input size, which the exported model's metadata carries)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam peak learning rate")
    p.add_argument("--seed", type=int, default=0, help="seed of the data and the initial weights")
    p.add_argument("--sigma", type=float, default=2.0, help="Gaussian sigma of the targets (output px)")
    p.add_argument("--people", type=_pair, default=(1, 6), metavar="MIN,MAX",
                   help="people per image (default 1,6)")
    p.add_argument("--no-augment", dest="augment", action="store_false",
                   help="no random rotation/scale/translation (official ranges by default)")
    p.add_argument("--flip-prob", type=float, default=0.5, help="horizontal flip probability")
    p.add_argument("--fixed-sigma-l2", action="store_true",
                   help="ablation: HigherHRNet's plain L2 on fixed-sigma targets, no SAHR/WAHR")
    p.add_argument("--l2-twin", default="", metavar="DIR",
                   help="also train the fixed-sigma L2 ablation (same seed, schedule and batches) "
                        "in the same process, writing it to DIR")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="CUDA only: capture each arm's step once as a CUDA graph and replay it "
                        "(fixed batch and input size; the first 3 steps run eagerly)")
    p.add_argument("--fp32", action="store_true",
                   help="CUDA only: train in float32 instead of under bf16 autocast (GPUs without "
                        "bf16, e.g. T4, V100, Jetson Xavier; the CPU always trains in float32)")
    p.add_argument("--device", default="auto", help="auto (CUDA if available), cpu, cuda, cuda:N")
    p.add_argument("--workers", type=int, default=-1,
                   help="data worker processes (-1: 0 on the CPU, up to 12 with CUDA)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="iterations between checkpoints")
    p.add_argument("--log-every", type=int, default=10, help="iterations between log.jsonl lines")
    p.add_argument("--out", default="runs/train", help="output directory")
    p.add_argument("--resume", action="store_true",
                   help="continue from OUT/train_state.pth (same settings as the saved run)")
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh even where OUT (or --l2-twin DIR) already holds a run; "
                        "that run's weights, checkpoints, state and log are deleted first")
    p.add_argument("--init", default="", metavar="CKPT",
                   help="start from these weights (same --arch) with a fresh optimiser and "
                        "learning-rate schedule: a second training stage; use another --seed")
    p.add_argument("--no-progress", dest="progress", action="store_false", default=None,
                   help="no progress bar but a status line every ~5 %% of the run (default: a "
                        "bar when stderr is a terminal)")


def _existing_run(directory: str) -> str:
    """The file that shows ``directory`` holds a training run, or ""."""
    for name in ("train_state.pth", "model_final.pth"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    return ""


def _remove_run(directory: str) -> None:
    """Delete what a training run wrote into ``directory`` (weights, checkpoints, state, log),
    so that a run started over cannot be mixed up with the old one's later checkpoints."""
    import glob

    for pattern in ("model_final.pth", "model_iter*.pth", "train_state.pth", "log.jsonl"):
        for path in glob.glob(os.path.join(glob.escape(directory), pattern)):
            os.remove(path)


def run(args) -> int:
    from ..errors import MissingDependencyError, ModelError, OptionError

    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise MissingDependencyError("torch", "export", "training") from exc
    from export.train import TrainConfig, cuda_graphs_unavailable, l2_twin_conflict, train

    cfg = TrainConfig(
        arch=args.arch, iters=args.iters, batch_size=args.batch_size, input_size=args.input_size,
        seed=args.seed, lr=args.lr, sigma=args.sigma, people=tuple(args.people),
        augment=args.augment, flip_prob=args.flip_prob, fixed_sigma_l2=args.fixed_sigma_l2,
        init=args.init, l2_twin_dir=args.l2_twin, cuda_graphs=args.cuda_graphs, bf16=not args.fp32,
        device=args.device, workers=args.workers, threads=args.threads,
        checkpoint_every=args.checkpoint_every, log_every=args.log_every, out_dir=args.out,
        progress=sys.stderr.isatty() if args.progress is None else args.progress)
    if l2_twin_conflict(cfg):
        raise ModelError("--l2-twin trains the fixed-sigma L2 arm beside a SWAHR run: drop "
                         "--fixed-sigma-l2" if cfg.fixed_sigma_l2 else
                         "--l2-twin needs a folder of its own, not the --out folder")
    if cuda_graphs_unavailable(cfg):
        raise ModelError("--cuda-graphs needs a CUDA GPU (this run's device is the CPU)")
    cfg.validate()
    for option, directory in (("--out", cfg.out_dir), ("--l2-twin", cfg.l2_twin_dir)):
        if directory:  # a file in the way ends the run only when it first saves, otherwise
            check_folder_can_exist(Path(directory), option, Path(directory))
    if args.resume and args.overwrite:
        raise OptionError("--resume continues the run in --out, --overwrite starts it over: "
                          "give one of them")
    for directory in filter(None, (cfg.out_dir, cfg.l2_twin_dir)):
        found = _existing_run(directory)
        if found and args.overwrite:
            _remove_run(directory)
        elif found and not args.resume:
            raise OptionError(f"{directory} already holds a training run ({found}): add "
                              "--resume to continue it or --overwrite to start it over")
    result = train(cfg, resume=args.resume)
    # the first iteration is warm-up and not timed, so a 1-iteration run has no speed to report
    speed = (f"{result.seconds_per_iter:.3f} s/iter" if math.isfinite(result.seconds_per_iter)
             else "speed not measured")
    print(f"wrote {result.checkpoint} after {result.iterations} iterations "
          f"({speed}, loss {result.losses.get('total', float('nan')):.4e})")
    if result.twin is not None:
        print(f"wrote {result.twin.checkpoint} (the fixed-sigma L2 twin, same batches; "
              f"loss {result.twin.losses.get('total', float('nan')):.4e})")
    return 0
