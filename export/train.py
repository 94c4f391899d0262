"""Train a SWAHR / HigherHRNet model on synthetic people (:mod:`export.synthetic_people`).

The recipe is the official one scaled down: official weight initialisation (normal std 0.001,
scale heads' last conv zero), Adam, learning rate warmed up linearly from 10 % to 100 % over the
first 1 % of iterations then decayed linearly to 0 (the official schedule: 3 warm-up epochs of
300), the SWAHR loss of :mod:`export.losses` with the official COCO W32 factors, Gaussian targets
with sigma 2 at both stages.  Samples are drawn on the fly; batch ``b`` is a pure function of
``(seed, b)``, so a run is reproducible whatever the number of data workers, and on the CPU
(fixed thread count) the weights are too.  On CUDA the forward pass runs under bf16 autocast
(losses in float32; ``bf16=False``: all float32, for GPUs without bf16 and for checks) with
channels-last tensors; ``cuda_graphs`` replays each step from a CUDA
graph (:mod:`export.graph_step`: the same batches and schedule, the host no longer issues the
step's kernels one by one).

Outputs in ``out_dir``: ``model_final.pth`` and every ``checkpoint_every`` iterations
``model_iter{N}.pth`` (plain state dicts with the official key names, what ``swahr-infer export``
loads), ``train_state.pth`` (model + optimiser + iteration, for ``resume``), ``config.json`` and
``log.jsonl`` (loss terms every ``log_every`` iterations).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import pickle
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import numpy as np
import torch
from torch import nn

from swahr_infer.errors import CheckpointError, OptionError
from swahr_infer.skeleton import COCO

from .augment import AugmentConfig, hflip, random_affine
from .graph_step import GraphedStep, StaticBatch, portable_state
from .losses import LossConfig, LossTerms, SwahrLoss
from .model import build_model, get_arch
from .onnx_export import atomic_output
from .synthetic_people import SceneConfig, render_scene
from .targets import stage_targets

logger = logging.getLogger(__name__)

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as config.json next to the weights)."""

    arch: str = "w16-small"
    iters: int = 1000
    batch_size: int = 8
    input_size: int = 0  # square input side; 0: the architecture's test-time input size
    seed: int = 0
    lr: float = 1e-3
    warmup_frac: float = 0.01
    sigma: float = 2.0
    max_people: int = 30
    people: Tuple[int, int] = (1, 6)
    augment: bool = True  # random rotation / scale / translation (official ranges)
    flip_prob: float = 0.5
    fixed_sigma_l2: bool = False  # ablation: HigherHRNet's plain L2 on fixed-sigma targets
    init: str = ""  # start from these weights (a checkpoint) with a fresh optimiser and schedule
    l2_twin_dir: str = ""  # also train the fixed-sigma L2 ablation on the same batches, saved here
    cuda_graphs: bool = False  # CUDA only: replay each step from a CUDA graph (export.graph_step)
    bf16: bool = True  # CUDA only: forward under bf16 autocast; False: float32 throughout
    device: str = "auto"  # "auto" (CUDA when available), "cpu", "cuda", "cuda:1", ...
    workers: int = -1  # data worker processes; -1: 0 on the CPU, up to 12 on CUDA
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    checkpoint_every: int = 500
    log_every: int = 10
    out_dir: str = "runs/train"
    progress: bool = True  # a tqdm bar; False: a status line on stderr about every 5 % instead

    @property
    def output_sizes(self) -> Tuple[int, int]:
        return self.input_size // 4, self.input_size // 2

    def resolved(self) -> "TrainConfig":
        """A copy with defaults filled in from the architecture (input size)."""
        if self.input_size > 0:
            return self
        return dataclasses.replace(self, input_size=get_arch(self.arch).input_size)

    def validate(self) -> None:
        """Raise :class:`OptionError` (a ValueError) for a value out of range or settings in
        conflict; the message names the ``swahr-infer train`` option where there is one."""
        try:
            get_arch(self.arch)
        except KeyError as exc:
            raise OptionError(exc.args[0]) from None
        try:
            low, high = (int(n) for n in self.people)
        except (TypeError, ValueError):
            raise OptionError(f"--people must be MIN,MAX, got {self.people!r}") from None
        checks = [
            (self.iters >= 1, f"--iters must be at least 1, got {self.iters}"),
            (self.batch_size >= 1, f"--batch-size must be at least 1, got {self.batch_size}"),
            (self.input_size >= 0 and self.input_size % 32 == 0,
             f"--input-size must be a positive multiple of 32, got {self.input_size}"),
            (math.isfinite(self.lr) and self.lr > 0,
             f"--lr must be a positive number, got {self.lr}"),
            (math.isfinite(self.sigma) and self.sigma > 0,
             f"--sigma must be a positive number, got {self.sigma}"),
            (0 <= self.flip_prob <= 1, f"--flip-prob must be in [0, 1], got {self.flip_prob}"),
            (1 <= low <= high, f"--people MIN,MAX needs 1 <= MIN <= MAX, got {low},{high}"),
            (self.max_people >= 1, f"max_people must be at least 1, got {self.max_people}"),
            (0 <= self.warmup_frac <= 1, f"warmup_frac must be in [0, 1], got {self.warmup_frac}"),
            (self.checkpoint_every >= 0,
             f"--checkpoint-every must be 0 (none) or more, got {self.checkpoint_every}"),
            (self.log_every >= 1, f"--log-every must be at least 1, got {self.log_every}"),
            (self.workers >= -1, f"--workers must be -1 (automatic) or more, got {self.workers}"),
            (self.threads >= 0,
             f"--threads must be 0 (torch's default) or more, got {self.threads}"),
        ]
        for ok, message in checks:
            if not ok:
                raise OptionError(message)
        _check_device(self.device)
        if l2_twin_conflict(self):
            raise OptionError("an L2 twin needs a SWAHR run (no fixed_sigma_l2) and its own "
                              "directory")
        if cuda_graphs_unavailable(self):
            raise OptionError("CUDA graphs need a CUDA device (device 'auto' with a GPU, or "
                              "'cuda')")


@dataclass
class TrainResult:
    """What a run produced: the final weights, the last logged losses, the speed (and the L2
    twin's result when ``l2_twin_dir`` was set)."""

    checkpoint: str
    iterations: int
    losses: Dict[str, float] = field(default_factory=dict)
    seconds_per_iter: float = float("nan")
    twin: Optional["TrainResult"] = None


# ----------------------------------------------------------------------------------- data
def make_sample(rng: np.random.Generator, cfg: TrainConfig) -> Tuple[np.ndarray, np.ndarray]:
    """One augmented training image np.ndarray[S, S, 3] uint8 and keypoints np.ndarray[N, K, 3]
    in its pixels (S = input size)."""
    scene_cfg = SceneConfig(people=tuple(cfg.people))
    image, keypoints = _scene(rng, cfg.input_size, scene_cfg)
    if cfg.augment:
        image, keypoints = random_affine(rng, image, keypoints, cfg.input_size, AugmentConfig())
    if cfg.flip_prob > 0 and rng.random() < cfg.flip_prob:
        image, keypoints = hflip(image, keypoints, COCO.flip_index)
    return image, keypoints


def _scene(rng: np.random.Generator, size: int, scene_cfg: SceneConfig) -> Tuple[np.ndarray, np.ndarray]:
    scene = render_scene(rng, (size, size), scene_cfg)
    return scene.image, scene.keypoints


def make_batch(cfg: TrainConfig, batch_index: int) -> Dict[str, object]:
    """Batch ``batch_index`` of a run, a pure function of (cfg.seed, batch_index).

    Returns numpy arrays: images [B, 3, S, S] float32 (RGB, ImageNet-normalised), and per stage
    heatmaps [B, K, s, s] float32, masks [B, s, s] float32 (all ones: synthetic data has no
    unlabelled crowd regions), indices [B, max_people, K, 2] int64.
    """
    cfg = cfg.resolved()
    images, heatmaps, indices = [], [[], []], [[], []]
    for i in range(cfg.batch_size):
        rng = np.random.default_rng([cfg.seed, batch_index, i])
        image, keypoints = make_sample(rng, cfg)
        images.append(((image.astype(np.float32) / 255.0 - MEAN) / STD).transpose(2, 0, 1))
        hms, idx = stage_targets(keypoints, cfg.input_size, cfg.output_sizes, cfg.sigma, cfg.max_people)
        for s in range(2):
            heatmaps[s].append(hms[s])
            indices[s].append(idx[s])
    return {
        "images": np.stack(images),
        "heatmaps": [np.stack(h) for h in heatmaps],
        "masks": [np.ones((cfg.batch_size, r, r), np.float32) for r in cfg.output_sizes],
        "indices": [np.stack(i) for i in indices],
    }


class SyntheticBatches(torch.utils.data.IterableDataset):
    """Batches ``start .. stop - 1``; with several workers, worker w makes batches b = w mod n, and
    the DataLoader's round-robin hands them back in order."""

    def __init__(self, cfg: TrainConfig, start: int, stop: int):
        self.cfg, self.start, self.stop = cfg, start, stop

    def __iter__(self) -> Iterator[Dict[str, object]]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for b in range(self.start + worker, self.stop, workers):
            yield make_batch(self.cfg, b)


def _worker_init(_: int) -> None:
    """Data workers are single-threaded: parallelism comes from the number of workers (OpenCV's
    side of that is set before they are forked, :func:`_batches`)."""
    torch.set_num_threads(1)


def _to_device(batch: Dict[str, object], device: torch.device) -> Dict[str, object]:
    def move(x):
        t = torch.as_tensor(x)
        return t.to(device, non_blocking=True)
    return {key: [move(x) for x in value] if isinstance(value, list) else move(value)
            for key, value in batch.items()}


# ----------------------------------------------------------------------------------- model
def init_official_weights(model: nn.Module) -> None:
    """The official initialisation: convs and deconvs normal(std 0.001) with zero bias, BN (1, 0),
    and the last conv of each scale head zero, so training starts from scale 0 (plain targets)."""
    for m in model.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
    for head in getattr(model, "conv_scale_layers", []):
        nn.init.zeros_(head[-1].weight)
        nn.init.zeros_(head[-1].bias)


def learning_rate(cfg: TrainConfig, iteration: int) -> float:
    """Official schedule over the run: linear warm-up 0.1 -> 1 x lr, then linear decay to 0."""
    warmup = max(1, int(round(cfg.warmup_frac * cfg.iters)))
    if iteration < warmup:
        return cfg.lr * (0.1 + 0.9 * iteration / warmup)
    return cfg.lr * max(0.0, 1.0 - (iteration - warmup) / max(1, cfg.iters - warmup))


def _device(cfg: TrainConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(cfg.device)


def _check_device(name: str) -> None:
    """OptionError unless ``name`` is "auto" or a device torch knows and this machine has."""
    if name == "auto":
        return
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise OptionError(f"--device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type != "cuda":
        return
    if not torch.cuda.is_available():
        raise OptionError(f"--device {name}: no CUDA device is available here (torch.cuda."
                          "is_available() is False); use --device cpu or auto")
    count = torch.cuda.device_count()
    if device.index is not None and device.index >= count:
        raise OptionError(f"--device {name}: no CUDA device {device.index} (this machine has "
                          f"{count})")


def state_dict_cpu(model: nn.Module) -> Dict[str, torch.Tensor]:
    """The model's state dict on the CPU, official key names (no ``module.`` prefix)."""
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in model.state_dict().items()}


# ----------------------------------------------------------------------------------- loop
def _setup(cfg: TrainConfig, device: torch.device, resume: bool):
    """Model (official init, or the saved state), Adam, loss, and the iteration to start from."""
    arch = get_arch(cfg.arch)
    torch.manual_seed(cfg.seed)
    model = build_model(arch)
    init_official_weights(model)
    if cfg.init:
        _load_init(model, cfg)
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    loss_fn = SwahrLoss(LossConfig(num_joints=arch.num_joints, adaptive=not cfg.fixed_sigma_l2,
                                   scale_channels=arch.scale_heads))
    start = 0
    state_path = os.path.join(cfg.out_dir, "train_state.pth")
    if resume and os.path.exists(state_path):
        state = torch.load(state_path, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = int(state["iteration"])
        logger.info("resumed from %s at iteration %d", state_path, start)
    return model, optimizer, loss_fn, start


def _load_init(model: nn.Module, cfg: TrainConfig) -> None:
    """Warm start: the weights of ``cfg.init`` (strict: same architecture, official names).

    Only the weights come over; Adam's moments and the learning-rate schedule start afresh, so a
    second stage is a normal run that happens to begin from trained weights.  Give it another
    ``seed`` than the first stage, or it sees the first stage's batches again.
    """
    from .checkpoint import check_keys, read_state_dict

    state = read_state_dict(cfg.init)
    check_keys(model, state, get_arch(cfg.arch), source=cfg.init)
    model.load_state_dict(state, strict=True)
    logger.info("initialised from %s", cfg.init)


def _batches(cfg: TrainConfig, start: int, cuda: bool) -> Iterator[Dict[str, object]]:
    """Batches ``start .. cfg.iters - 1`` in order, made by ``cfg.workers`` forked data workers.

    OpenCV is set to one thread while the workers are forked, and back after: a worker that
    calls ``cv2.setNumThreads`` itself hangs for good when this process had used OpenCV's thread
    pool before (the pool's threads do not exist in a fork, its lock may be held), which any
    process that made a batch first does (tests, notebooks, train_profile's second variant)."""
    import cv2

    workers = cfg.workers
    if workers < 0:
        workers = min(12, max(1, (os.cpu_count() or 2) - 2)) if cuda else 0
    loader = torch.utils.data.DataLoader(
        SyntheticBatches(cfg, start, cfg.iters), batch_size=None, num_workers=workers,
        pin_memory=cuda, prefetch_factor=4 if workers else None,
        worker_init_fn=_worker_init if workers else None)
    if not workers:  # batches made in this process: nothing is forked
        return iter(loader)
    threads = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        return iter(loader)  # the workers start (fork) here
    finally:
        cv2.setNumThreads(threads)


def _step(model: nn.Module, optimizer: torch.optim.Optimizer, loss_fn: SwahrLoss,
          batch: Dict[str, object], lr: float,
          memory_format: torch.memory_format = torch.channels_last, autocast: bool = True) -> LossTerms:
    """One optimisation step on one batch already on the model's device; returns the loss terms.

    On CUDA the images go in ``memory_format``, the layout :func:`_setup` gives the model there
    (benchmarks/train_profile.py passes another to measure what the layout costs)."""
    images = batch["images"]
    cuda = images.device.type == "cuda"
    if cuda:
        images = images.contiguous(memory_format=memory_format)
    for group in optimizer.param_groups:
        group["lr"] = lr
    with torch.autocast(device_type=images.device.type, dtype=torch.bfloat16, enabled=cuda and autocast):
        outputs = model(images)
    terms = loss_fn(outputs, batch["heatmaps"], batch["masks"], batch["indices"])
    optimizer.zero_grad(set_to_none=True)
    terms.total.backward()
    optimizer.step()
    return terms


@dataclass
class _Arm:
    """One model being trained: the run's own, or the fixed-sigma L2 twin beside it."""

    cfg: TrainConfig
    model: nn.Module
    optimizer: torch.optim.Optimizer
    loss_fn: SwahrLoss
    start: int
    losses: Dict[str, float] = field(default_factory=dict)
    step: Optional[Callable[[Dict[str, object], float], LossTerms]] = None  # step(batch, lr)

    def __post_init__(self):
        if self.step is None:
            self.step = partial(_step, self.model, self.optimizer, self.loss_fn,
                                autocast=self.cfg.bf16)

    def capture(self) -> None:
        """Replay this arm's steps from a CUDA graph (:class:`export.graph_step.GraphedStep`)."""
        self.step = GraphedStep(self.model, self.optimizer, self.loss_fn, autocast=self.cfg.bf16)
        self.optimizer = self.step.optimizer

    @property
    def log_path(self) -> str:
        return os.path.join(self.cfg.out_dir, "log.jsonl")


def _arm(cfg: TrainConfig, device: torch.device, resume: bool) -> _Arm:
    os.makedirs(cfg.out_dir, exist_ok=True)
    with open(os.path.join(cfg.out_dir, "config.json"), "w") as f:
        json.dump(dataclasses.asdict(cfg), f, indent=1)
    arm = _Arm(cfg, *_setup(cfg, device, resume))
    if arm.start == 0 and os.path.exists(arm.log_path):
        os.remove(arm.log_path)
    elif os.path.exists(arm.log_path):
        _trim_log(arm.log_path, arm.start)
    arm.model.train()
    return arm


def _trim_log(path: str, last: int) -> None:
    """Drop the log lines past iteration ``last``: a run killed between two checkpoints logged
    iterations that its resumed run trains (and logs) again, and one iteration must have one
    line, in order, for anything that plots or averages the log."""
    with open(path) as f:
        lines = f.readlines()
    kept = [line for line in lines if _logged_iteration(line) <= last]
    if len(kept) != len(lines):
        with atomic_output(Path(path)) as temporary:
            temporary.write_text("".join(kept))


def _logged_iteration(line: str) -> float:
    """The iteration a log line records; infinite for a line cut short when the run was killed
    mid-write (so it is dropped with the others past the checkpoint)."""
    try:
        return json.loads(line)["iter"]
    except (ValueError, KeyError, TypeError):
        return math.inf


def twin_config(cfg: TrainConfig) -> TrainConfig:
    """The L2 twin of a run: the same run (seed, so initial weights and batches; schedule;
    init) with HigherHRNet's fixed-sigma targets and plain L2 loss, written to l2_twin_dir."""
    return dataclasses.replace(cfg, fixed_sigma_l2=True, out_dir=cfg.l2_twin_dir, l2_twin_dir="")


def l2_twin_conflict(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` asks for an L2 twin it cannot have: the run is itself the L2 arm, or the
    twin would write into the run's own directory."""
    return bool(cfg.l2_twin_dir) and (
        cfg.fixed_sigma_l2 or os.path.abspath(cfg.l2_twin_dir) == os.path.abspath(cfg.out_dir))


def cuda_graphs_unavailable(cfg: TrainConfig) -> bool:
    """Whether ``cfg`` asks for CUDA graphs on a device that has none (the CPU).  An invalid
    device name is not this function's to report (:meth:`TrainConfig.validate` does)."""
    try:
        return cfg.cuda_graphs and _device(cfg).type != "cuda"
    except RuntimeError:
        return False


# settings a resumed run may change: where it runs and how it reports, not what it trains
RESUMABLE_FIELDS = frozenset({"device", "workers", "threads", "checkpoint_every", "log_every",
                              "progress", "out_dir", "l2_twin_dir", "cuda_graphs", "bf16"})


def check_resume(cfg: TrainConfig) -> None:
    """Raise :class:`OptionError` unless ``cfg.out_dir`` (and the L2 twin's directory) holds a
    ``train_state.pth`` saved by a run of the same configuration: the same ``cfg`` (resolved)
    but for :data:`RESUMABLE_FIELDS`.  Call it before the run rewrites ``config.json``."""
    for arm_cfg in [cfg] + ([twin_config(cfg)] if cfg.l2_twin_dir else []):
        path = os.path.join(arm_cfg.out_dir, "train_state.pth")
        if not os.path.exists(path):
            raise OptionError(f"cannot resume: {path} does not exist (start the run without "
                              "--resume)")
        saved, iteration = _saved_config(path)
        differ = [f"{name} {_plain(value)!r} (saved: {_plain(saved[name])!r})"
                  for name, value in dataclasses.asdict(arm_cfg).items()
                  if name not in RESUMABLE_FIELDS and name in saved
                  and _plain(value, name) != _plain(saved[name], name)]
        if differ:
            raise OptionError(
                f"cannot resume {arm_cfg.out_dir}: its saved run was configured otherwise: "
                f"{', '.join(differ)} (only {', '.join(sorted(RESUMABLE_FIELDS))} may change "
                "on resume; to start this run over, drop --resume and add --overwrite)")
        if iteration is not None and iteration >= arm_cfg.iters:
            raise OptionError(f"cannot resume {arm_cfg.out_dir}: its run finished (iteration "
                              f"{iteration} of {arm_cfg.iters}); its weights are in "
                              f"{os.path.join(arm_cfg.out_dir, 'model_final.pth')}")


def _saved_config(state_path: str) -> Tuple[Dict[str, object], Optional[int]]:
    """The configuration stored in a ``train_state.pth`` (else the ``config.json`` beside it;
    empty when neither has one) and the iteration it was saved at (None if unknown)."""
    try:
        state = torch.load(state_path, map_location="cpu", mmap=True, weights_only=True)
    except (RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise CheckpointError(f"cannot resume: {state_path} is not a readable training state "
                              f"({reason})") from None
    saved = state.get("config") if isinstance(state, dict) else None
    if saved is None:
        config_path = os.path.join(os.path.dirname(state_path), "config.json")
        if os.path.exists(config_path):
            with open(config_path) as f:
                saved = json.load(f)
    iteration = state.get("iteration") if isinstance(state, dict) else None
    return dict(saved or {}), None if iteration is None else int(iteration)


def _plain(value: object, name: str = "") -> object:
    """Tuples as lists (config.json and train_state.pth store ``people`` differently), and the
    ``init`` checkpoint as its real path (one file, however it is written)."""
    if name == "init" and value:
        return os.path.realpath(str(value))
    return list(value) if isinstance(value, (list, tuple)) else value


def train(cfg: TrainConfig, resume: bool = False) -> TrainResult:
    """Run training as configured; return where the final weights are.

    Raises :class:`~swahr_infer.errors.OptionError` (a ValueError) for an invalid ``cfg``
    (:meth:`TrainConfig.validate`).
    resume: continue from ``out_dir/train_state.pth`` instead of starting afresh; the state must
    exist and come from the same configuration (:func:`check_resume`).
    ``cfg.threads`` applies for the run; torch's thread count is restored afterwards.
    With ``cfg.l2_twin_dir`` the fixed-sigma L2 ablation (:func:`twin_config`) trains in the
    same process on the very same batches: the data is drawn once for both arms, and the two
    see exactly the same samples in the same order (on the CPU, bit for bit what two separate
    runs give).
    """
    cfg.validate()
    cfg = cfg.resolved()
    if resume:
        check_resume(cfg)  # before the run writes its config.json
    threads = torch.get_num_threads()
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(cfg, resume)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: TrainConfig, resume: bool) -> TrainResult:
    arch = get_arch(cfg.arch)
    device = _device(cfg)
    cuda = device.type == "cuda"
    arms: List[_Arm] = [_arm(cfg, device, resume)]
    if cfg.l2_twin_dir:
        arms.append(_arm(twin_config(cfg), device, resume))
        if arms[1].start != arms[0].start:
            raise ValueError(f"cannot resume: the run is at iteration {arms[0].start}, its L2 twin "
                             f"at {arms[1].start}")
    start = arms[0].start
    static = StaticBatch() if cfg.cuda_graphs else None
    if static is not None:
        for arm in arms:
            arm.capture()
    bar = None
    if cfg.progress:
        from tqdm import tqdm
        bar = tqdm(total=cfg.iters, initial=start, desc=f"train {arch.name}", unit="it", dynamic_ncols=True)
    # without a bar (a log file, nohup, --no-progress) a status line about every 5 % of the run,
    # on a log iteration so that its loss is fresh: hours of training are not silent
    status_every = cfg.log_every * max(1, math.ceil(cfg.iters / 20 / cfg.log_every))

    timed_from, timed_iters, it = None, 0, start
    for batch in _batches(cfg, start, cuda):
        batch = _to_device(batch, device)
        if static is not None:
            batch = static.load(batch)
        lr = learning_rate(cfg, it)
        terms = [a.step(batch, lr) for a in arms]
        it += 1
        if it == start + 1:  # time from the end of the first (warm-up) iteration
            if cuda:
                torch.cuda.synchronize(device)
            timed_from = time.perf_counter()
        else:
            timed_iters += 1
        if it % cfg.log_every == 0 or it == cfg.iters:
            for arm, arm_terms in zip(arms, terms):
                arm.losses = arm_terms.as_floats()
                if not all(math.isfinite(v) for v in arm.losses.values()):
                    raise FloatingPointError(f"non-finite loss at iteration {it} "
                                             f"({arm.cfg.out_dir}): {arm.losses}")
                with open(arm.log_path, "a") as f:
                    f.write(json.dumps({"iter": it, "lr": learning_rate(cfg, it - 1), **arm.losses}) + "\n")
            if bar is not None:
                bar.set_postfix(loss=f"{arms[0].losses['total']:.3e}", hm=f"{arms[0].losses['heatmap1']:.2e}")
            elif it % status_every == 0 or it == cfg.iters:
                print(_status_line(arch.name, it, cfg.iters, arms[0].losses["total"],
                                   timed_from, timed_iters), file=sys.stderr, flush=True)
        if bar is not None:
            bar.update(1)
        if cfg.checkpoint_every > 0 and it % cfg.checkpoint_every == 0 and it < cfg.iters:
            for arm in arms:
                _save(arm.model, arm.optimizer, it, arm.cfg, final=False)
    if bar is not None:
        bar.close()
    if cuda:
        torch.cuda.synchronize(device)
    speed = (time.perf_counter() - timed_from) / timed_iters if timed_iters else float("nan")
    results = [TrainResult(checkpoint=_save(a.model, a.optimizer, it, a.cfg, final=True),
                           iterations=it, losses=a.losses, seconds_per_iter=speed) for a in arms]
    if len(results) > 1:
        results[0].twin = results[1]
    return results[0]


def _status_line(arch: str, it: int, iters: int, loss: float, timed_from, timed_iters: int) -> str:
    """``train w16-small: 400/3400 (12 %), loss 1.53e-03, 1.05 s/it, 52 min left``, the form of
    predict's and eval's status lines (:mod:`swahr_infer.progress`), the time left in the same
    units (and none on the last line)."""
    from swahr_infer.progress import format_duration

    line = f"train {arch}: {it}/{iters} ({100 * it // iters} %), loss {loss:.2e}"
    if timed_from is not None and timed_iters > 0:
        per_iter = (time.perf_counter() - timed_from) / timed_iters
        line += f", {per_iter:.3g} s/it"
        if it < iters:
            line += f", {format_duration((iters - it) * per_iter)} left"
    return line


def _save(model: nn.Module, optimizer: torch.optim.Optimizer, iteration: int, cfg: TrainConfig,
          final: bool) -> str:
    weights = state_dict_cpu(model)
    path = os.path.join(cfg.out_dir, "model_final.pth" if final else f"model_iter{iteration}.pth")
    # each written beside its name and renamed: a run killed while saving (a session's end, a
    # timeout) keeps its previous train_state.pth whole, so --resume has something to continue
    state = {"model": weights, "optimizer": portable_state(optimizer), "iteration": iteration,
             "config": dataclasses.asdict(cfg)}
    for obj, destination in ((weights, path), (state, os.path.join(cfg.out_dir, "train_state.pth"))):
        with atomic_output(Path(destination)) as temporary:
            torch.save(obj, temporary)
    logger.info("saved %s", path)
    return path
