"""Measure how fast the pipeline runs here: latency per stage, images per second, peak memory.

After --warmup untimed calls, --runs timed calls of Estimator.predict on one image report the
median and 90th percentile milliseconds of each stage: load (image file decode), preprocess
(warp + normalise, flipped copy), inference (the network), fusion (flip-back, projection,
scale fusion), decode (NMS, grouping, adjust, refine, back to image pixels), postprocess and
total; images/s is 1000 / median total.  Peak memory: the process's peak RSS, and the peak of
Python/numpy allocations during one extra untimed call.

The model is --model FILE, or with --arch NAME a network of that architecture with random
(seeded PyTorch default) weights, exported once into --cache-dir; that needs the export extra
(torch, onnx, onnxslim) the first time only.  Random weights give noise heatmaps with up to 30
low-score "people", the decoder's worst case.  Without either, the bundled model is used.

The image is --image FILE, or a synthetic photo-like JPEG of --size WxH (default 1920x1080)
written once to --cache-dir.  Speed is what this reports; it checks nothing.

examples:
  swahr-infer bench --model w32_512.onnx --image crowd.jpg --runs 20
  swahr-infer bench --arch w32 --size 640x480 --threads 2 --json bench.json
  swahr-infer bench --arch w8-tiny --no-flip --scales 2 1 0.5 --runs 5
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Tuple

from .args import check_output_file, int_at_least
from .export import ARCH_NAMES  # the registered architectures, listed without torch

HELP = "measure per-stage latency, images/s and peak memory on this machine"


#: largest --size side: more than any camera gives; drawing the synthetic image takes about
#: 40 bytes a pixel (10 GiB at 16384 x 16384), so larger sizes only end in a MemoryError
MAX_SIDE = 16384


def _size(text: str) -> Tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 1920x1080, got {text!r}")
    if width < 2 or height < 2:
        raise argparse.ArgumentTypeError(f"width and height must be at least 2, got {text!r}")
    if width > MAX_SIDE or height > MAX_SIDE:
        raise argparse.ArgumentTypeError(f"width and height must be at most {MAX_SIDE}, got "
                                         f"{text!r}")
    return width, height


_size.__name__ = "WxH"  # argparse names the type in "invalid ... value" messages


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", "-m", type=Path, default=None,
                        help="model file (.onnx) to measure")
    source.add_argument("--arch", choices=ARCH_NAMES, default=None,
                        help="measure a random-weight model of this architecture (exported once "
                             "into --cache-dir; needs torch the first time)")
    parser.add_argument("--fp16", action="store_true",
                        help="with --arch: export the random-weight model in float16")
    parser.add_argument("--seed", type=int, default=0, help="with --arch: weight seed (0)")
    parser.add_argument("--image", type=Path, default=None,
                        help="image file to run on (default: a synthetic JPEG of --size)")
    parser.add_argument("--size", type=_size, default=(1920, 1080), metavar="WxH",
                        help=f"size of the synthetic image (default 1920x1080; each side 2 to "
                             f"{MAX_SIDE})")
    parser.add_argument("--runs", type=int_at_least(1), default=10, metavar="N",
                        help="timed calls (default 10)")
    parser.add_argument("--warmup", type=int_at_least(0), default=2, metavar="N",
                        help="untimed calls first (default 2)")
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0], metavar="S",
                        help="test scales, e.g. 2 1 0.5 (default: 1)")
    parser.add_argument("--no-flip", action="store_true", help="turn the flip test off")
    parser.add_argument("--threads", type=int_at_least(0), default=0, metavar="N",
                        help="inference threads (default: the backend's choice)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"),
                        help="where ONNX Runtime runs (default: CUDA if available)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the extra untimed call that measures Python/numpy memory")
    parser.add_argument("--cache-dir", type=Path, default=None,
                        help="where random-weight models and synthetic images are kept "
                             "(default: ~/.cache/swahr-infer/bench)")
    parser.add_argument("--json", type=Path, default=None, metavar="OUT",
                        help="also write the result as JSON here")


def run(args: argparse.Namespace) -> int:
    from .. import __version__
    from ..benchmark import (STAGES, default_cache_dir, describe, format_table, machine_info,
                             measure, random_model, synthetic_image_file, write_json)
    from ..errors import OptionError
    from ..estimator import Estimator
    from ..image_io import to_pixels

    if args.fp16 and args.arch is None:
        print("swahr-infer bench: --fp16 only applies with --arch (a --model file has its own "
              "precision)", file=sys.stderr)
        return 2
    check_output_file(args.json, "--json")  # before the run, not after it with its result lost
    cache = args.cache_dir or default_cache_dir()
    model = args.model
    if args.arch is not None:
        model = random_model(args.arch, cache, fp16=args.fp16, seed=args.seed,
                             say=lambda message: print(f"swahr-infer bench: {message}",
                                                       file=sys.stderr, flush=True))
    try:
        image = args.image or synthetic_image_file(*args.size, cache)
    except MemoryError:  # within MAX_SIDE, but more than this machine has
        width, height = args.size
        raise OptionError(f"--size {width}x{height}: not enough memory to draw a synthetic image "
                          "that large; give a smaller --size or an --image") from None
    height, width = to_pixels(image)[0].shape[:2]  # also fails early on an unreadable image

    with Estimator(model, scales=tuple(args.scales), flip=not args.no_flip,
                   threads=args.threads or None, device=args.device) as estimator:
        config = describe(estimator, (height, width))
        config.update(image=str(image), threads=args.threads or "default",
                      random_weights=args.arch is not None)
        print(f"swahr-infer bench: {args.warmup} warm-up + {args.runs} timed runs ...",
              file=sys.stderr, flush=True)
        result = measure(estimator, str(image), runs=args.runs, warmup=args.warmup,
                         memory=not args.no_memory, config=config)

    rows = [{"stage": name, "median": s.median, "p90": s.p90, "min": s.min, "max": s.max}
            for name, s in result.stages.items() if name in STAGES]
    print(f"{config['arch']} ({config['precision']}, {', '.join(config['providers'])}) on "
          f"{width}x{height}, network input {' + '.join(config['network_inputs'])}, "
          f"scales {config['scales']}, flip {'on' if config['flip'] else 'off'}, threads "
          f"{config['threads']}; {args.runs} runs after {args.warmup} warm-up")
    print(format_table(rows, ["stage", "median", "p90", "min", "max"],
                       ["stage", "median ms", "p90 ms", "min ms", "max ms"]))
    memory = ", ".join(f"{label} {value:.0f} MiB" for label, value in
                       (("peak RSS", result.rss_peak_mb), ("numpy/Python peak",
                                                           result.traced_peak_mb))
                       if value is not None)
    print(f"{result.images_per_s:.2f} images/s, {result.people} person(s) found"
          + (f"; {memory}" if memory else ""))
    if args.json:
        write_json(args.json, {"tool": "swahr-infer bench", "version": __version__,
                               "machine": machine_info(), **result.to_dict()})
        print(f"wrote {args.json}")
    return 0
