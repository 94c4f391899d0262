"""The official SWAHR test-time pipeline, stage by stage, on the CPU, for side-by-side timing.

Given a checkout of greatlog/SWAHR-HumanPose (never copied into this project), this loads its
model class (``lib/models/pose_higher_hrnet.py``, configured by its yacs defaults and the
experiment YAML of the architecture; for our smaller members of the family, the W32 experiment
adjusted by :func:`official_config`) with *our* checkpoint (same state-dict names), and replays
the per-image loop of its ``tools/dist_valid.py`` worker with its own functions:
``get_multi_scale_size`` and ``resize_align_multi_scale`` (preprocessing), the model twice with
flip inside ``get_multi_stage_outputs``, ``aggregate_results`` (fusion), ``HeatmapParser.parse``
and ``get_final_preds`` (decoding).  Only what needs a GPU or a dataset is left out:
DataParallel and ``.cuda()``; the image is read as the official COCO dataset reads it
(``cv2.imread`` with ``IMREAD_COLOR | IMREAD_IGNORE_ORIENTATION``, then BGR -> RGB).

Stand-ins, all exact: ``dataset.transforms`` (whose package import pulls in pycocotools
and torchvision) is replaced by a module holding the flip indices from
:mod:`swahr_infer.skeleton` (the same values as the official ``FLIP_CONFIG``), and when
torchvision is absent its ``ToTensor`` + ``Normalize`` are replaced by the same float32
arithmetic in torch; and ``IPython`` (imported but unused by the model file) by an empty
module when it is not installed.

Needs torch, yacs and munkres (``pip install yacs munkres``).
"""

from __future__ import annotations

import importlib.util
import sys
import time
import types
import warnings
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from swahr_infer.skeleton import COCO, CROWDPOSE

# architecture -> the official experiment file it corresponds to
EXPERIMENTS = {
    "w32": "experiments/coco/higher_hrnet/w32_512_adam_lr1e-3.yaml",
    "w48": "experiments/coco/higher_hrnet/w48_640_adam_lr1e-3.yaml",
    "crowdpose-w48": "experiments/crowd_pose/higher_hrnet/w48_640_adam_lr1e-3.yaml",
}
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
_OFFICIAL_PACKAGES = ("config", "models", "core", "utils", "dataset")


class _TimedCall:
    """Wraps the network so that the time spent inside its forward calls can be read off."""

    def __init__(self, fn, sync=None):
        self.fn = fn
        self.sync = sync  # on a GPU: wait for the forward's kernels, so they are what is timed
        self.seconds = 0.0

    def __call__(self, *args):
        start = time.perf_counter()
        out = self.fn(*args)
        if self.sync is not None:
            self.sync()
        self.seconds += time.perf_counter() - start
        return out


def load_official_modules(repo: Path) -> types.SimpleNamespace:
    """Import the official modules the test loop uses, from ``repo/lib``."""
    lib = (Path(repo) / "lib").resolve()
    if not (lib / "core" / "group.py").is_file():
        raise FileNotFoundError(f"{repo} is not a SWAHR-HumanPose checkout (no lib/core/group.py)")
    for name in _OFFICIAL_PACKAGES:  # the official code uses generic top-level names
        module = sys.modules.get(name)
        # a package without __init__.py (the official lib/core) has no __file__, only a path
        origin = (getattr(module, "__file__", None)
                  or next(iter(getattr(module, "__path__", [])), ""))
        if module is not None and name != "dataset" and not origin.startswith(str(lib)):
            raise RuntimeError(f"a module called {name!r} is already imported from {origin}; "
                               "run the official comparison in a fresh process")
    if "dataset" not in sys.modules:
        package = types.ModuleType("dataset")
        package.__path__ = []
        transforms = types.ModuleType("dataset.transforms")
        transforms.FLIP_CONFIG = {
            "COCO": list(COCO.flip_index), "COCO_WITH_CENTER": list(COCO.flip_index) + [17],
            "CROWDPOSE": list(CROWDPOSE.flip_index),
            "CROWDPOSE_WITH_CENTER": list(CROWDPOSE.flip_index) + [14],
        }
        package.transforms = transforms
        sys.modules["dataset"], sys.modules["dataset.transforms"] = package, transforms
    # imported (unused) by the model file; a stub left by an earlier load has no spec to find
    if "IPython" not in sys.modules and importlib.util.find_spec("IPython") is None:
        sys.modules["IPython"] = types.SimpleNamespace(embed=lambda *a, **k: None)
    if str(lib) not in sys.path:
        sys.path.insert(0, str(lib))
    with warnings.catch_warnings():  # the official files trip Python 3.8+ SyntaxWarnings
        warnings.simplefilter("ignore", SyntaxWarning)
        import config  # noqa: F401  (yacs)
        import models.pose_higher_hrnet as pose_higher_hrnet
        from core import group, inference
        from utils import transforms

    return types.SimpleNamespace(cfg=config.cfg, net=pose_higher_hrnet, group=group,
                                 inference=inference, transforms=transforms)


def _to_tensor_normalized(torch, image: np.ndarray):
    """torchvision ``ToTensor()`` then ``Normalize(MEAN, STD)`` on an RGB uint8 image."""
    try:
        import torchvision.transforms as T
    except ImportError:
        tensor = torch.from_numpy(image.transpose((2, 0, 1))).contiguous().float().div(255)
        mean = torch.as_tensor(MEAN, dtype=tensor.dtype)[:, None, None]
        std = torch.as_tensor(STD, dtype=tensor.dtype)[:, None, None]
        return tensor.sub_(mean).div_(std)
    return T.Normalize(mean=list(MEAN), std=list(STD))(T.ToTensor()(image))


def official_config(mods, repo, arch: str, *, input_size: Optional[int] = None):
    """The official yacs config of ``arch``: its experiment file, or for the small members of
    the family (``export.model.ARCHS``: w16-small, w8-tiny), the COCO W32 experiment with the
    stage widths, module and block counts, deconv blocks and detection threshold of that
    architecture, so that the official model class builds the same network."""
    cfg = mods.cfg.clone()
    cfg.defrost()
    if arch in EXPERIMENTS:
        cfg.merge_from_file(str(Path(repo) / EXPERIMENTS[arch]))
    else:
        from export.model import ARCHS

        if arch not in ARCHS or ARCHS[arch].dataset != "coco":
            raise ValueError(f"no official configuration for {arch!r}; choose from "
                             f"{sorted(EXPERIMENTS)} or a COCO member of export.model.ARCHS")
        spec = ARCHS[arch]
        cfg.merge_from_file(str(Path(repo) / EXPERIMENTS["w32"]))
        extra = cfg.MODEL.EXTRA
        for i, name in enumerate(("STAGE2", "STAGE3", "STAGE4")):
            branches = i + 2
            extra[name].NUM_MODULES = spec.stage_modules[i]
            extra[name].NUM_BLOCKS = [spec.stage_blocks[i]] * branches
            extra[name].NUM_CHANNELS = list(spec.branch_widths[:branches])
        extra.DECONV.NUM_CHANNELS = [spec.width]
        extra.DECONV.NUM_BASIC_BLOCKS = spec.deconv_blocks
        cfg.DATASET.INPUT_SIZE = spec.input_size
        cfg.TEST.DETECTION_THRESHOLD = spec.detection_threshold
    if input_size:
        cfg.DATASET.INPUT_SIZE = int(input_size)
    cfg.freeze()
    return cfg


def official_model(mods, cfg, arch: str):
    """The official network for ``cfg``.  Its class builds ``layer1`` with four bottlenecks
    whatever the config says; for an architecture with another number (``stem_blocks``), the
    stem is rebuilt by the class's own ``_make_layer`` with that many."""
    model = mods.net.get_pose_net(cfg, is_train=False)
    if arch not in EXPERIMENTS:
        from export.model import ARCHS

        blocks = ARCHS[arch].stem_blocks
        if blocks != len(model.layer1):
            model.inplanes = 64
            model.layer1 = model._make_layer(mods.net.Bottleneck, 64, blocks)
    return model


class OfficialPipeline:
    """The official per-image test loop with per-stage timings (see module docstring).

    Args:
        repo: SWAHR-HumanPose checkout.
        checkpoint: a state dict with the official names (e.g. ``benchmarks`` random weights).
        arch: one of :data:`EXPERIMENTS`, or a smaller member of the family from
            ``export.model.ARCHS`` (see :func:`official_config`).
        scales, flip: ``TEST.SCALE_FACTOR`` and ``TEST.FLIP_TEST``.
        threads: torch intra-op threads (None: leave as is).
        device: torch device of the network and its maps ("cuda" runs it as the official
            tester does on a GPU: the parser then reads the maps from the device, as there).
        input_size: ``DATASET.INPUT_SIZE`` if not the experiment's (weights trained at another
            size, exported with the same ``--input-size``).

    Attributes:
        last_timings: ms per stage of the last :meth:`predict` (our stage names; ``inference``
            is the time inside the network's forward calls, ``fusion`` the rest of
            ``get_multi_stage_outputs`` and ``aggregate_results``).
        last_maps: (heatmaps [K, H, W], tags [K, H, W, T]) float32 of the last call.
    """

    def __init__(self, repo, checkpoint, arch: str = "w32", *, scales: Sequence[float] = (1.0,),
                 flip: bool = True, threads: Optional[int] = None, device: str = "cpu",
                 input_size: Optional[int] = None):
        import torch

        self.torch = torch
        if threads:
            torch.set_num_threads(int(threads))
        self.mods = load_official_modules(Path(repo))
        cfg = official_config(self.mods, repo, arch, input_size=input_size)
        cfg.defrost()
        cfg.TEST.SCALE_FACTOR = [float(s) for s in scales]
        cfg.TEST.FLIP_TEST = bool(flip)
        cfg.freeze()
        self.cfg = cfg
        model = official_model(self.mods, cfg, arch)
        model.load_state_dict(torch.load(str(checkpoint), map_location="cpu"), strict=True)
        self.device = torch.device(device)
        sync = torch.cuda.synchronize if self.device.type == "cuda" else None
        self.model = _TimedCall(model.eval().to(self.device), sync)
        self.parser = self.mods.group.HeatmapParser(cfg)
        self.last_timings: Dict[str, float] = {}
        self.last_maps: Optional[Tuple[np.ndarray, np.ndarray]] = None

    def predict(self, path) -> Tuple[np.ndarray, np.ndarray]:
        """Poses in the image file ``path``: keypoints [N, K, 3] and scores [N]."""
        import cv2

        torch, cfg, tf, inf = self.torch, self.cfg, self.mods.transforms, self.mods.inference
        clock = time.perf_counter
        start = clock()
        image = cv2.imread(str(path), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            raise FileNotFoundError(f"cannot read {path}")
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        loaded = clock()
        scales = cfg.TEST.SCALE_FACTOR
        input_size = cfg.DATASET.INPUT_SIZE
        preprocess = fusion = 0.0
        self.model.seconds = 0.0
        with torch.no_grad():
            t0 = clock()
            base_size, center, scale = tf.get_multi_scale_size(image, input_size, 1.0,
                                                               min(scales))
            preprocess += clock() - t0
            final_heatmaps, tags_list = None, []
            for factor in sorted(scales, reverse=True):
                t0 = clock()
                resized, center, scale = tf.resize_align_multi_scale(image, input_size, factor,
                                                                     min(scales))
                batch = _to_tensor_normalized(torch, resized).unsqueeze(0).to(self.device)
                t1 = clock()
                _, heatmaps, tags = inf.get_multi_stage_outputs(
                    cfg, self.model, batch, cfg.TEST.FLIP_TEST, cfg.TEST.PROJECT2IMAGE,
                    base_size)
                final_heatmaps, tags_list = inf.aggregate_results(
                    cfg, factor, final_heatmaps, tags_list, heatmaps, tags)
                t2 = clock()
                preprocess += t1 - t0
                fusion += t2 - t1
            t0 = clock()
            final_heatmaps = final_heatmaps / float(len(scales))
            tags = torch.cat(tags_list, dim=4)
            t1 = clock()
            fusion += t1 - t0
            grouped, person_scores = self.parser.parse(final_heatmaps, tags, cfg.TEST.ADJUST,
                                                       cfg.TEST.REFINE)
            final = tf.get_final_preds(grouped, center, scale,
                                       [final_heatmaps.size(3), final_heatmaps.size(2)])
            decoded = clock()
        network = self.model.seconds
        k = final_heatmaps.shape[1]
        keypoints = np.array([f[:, :3] for f in final], np.float32).reshape(-1, k, 3)
        self.last_maps = (final_heatmaps[0].cpu().numpy(), tags[0].cpu().numpy())
        self.last_timings = {
            "load": (loaded - start) * 1e3, "preprocess": preprocess * 1e3,
            "inference": network * 1e3, "fusion": (fusion - network) * 1e3,
            "decode": (decoded - t1) * 1e3, "postprocess": 0.0,
            "total": (decoded - start) * 1e3, "images": 1,
        }
        return keypoints, np.asarray(person_scores, np.float32).reshape(-1)
