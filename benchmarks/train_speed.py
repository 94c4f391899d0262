"""Seconds per training iteration, split into data (synthetic samples + targets) and compute
(forward, loss, backward, Adam step), for a few architectures and batch sizes.

Columns: medians of the timed iterations (data, compute, their sum = s/iter), the fastest
iteration, the process CPU seconds per iteration, and the 1-minute load average: on a shared
machine a load above the core count inflates wall times (OpenMP threads wait for each other).

Prints a table and writes JSON.  On the CPU the data is made in the training process (the
trainer's default there), so one iteration costs data + compute; with CUDA the trainer makes data
in worker processes, so compute alone bounds the speed if there are enough CPU cores.

    python benchmarks/train_speed.py --archs w8-tiny w16-small --batches 2 4 8 --size 256 --threads 2
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import time

import torch

from export.losses import LossConfig, SwahrLoss
from export.model import build_model, count_parameters, get_arch
from export.train import TrainConfig, init_official_weights, make_batch
from swahr_infer.benchmark import write_json


def measure(arch: str, batch: int, size: int, iters: int, device: torch.device) -> dict:
    cfg = TrainConfig(arch=arch, batch_size=batch, input_size=size)
    torch.manual_seed(0)
    model = build_model(arch)
    init_official_weights(model)
    model.to(device).train()
    cuda = device.type == "cuda"
    if cuda:
        model.to(memory_format=torch.channels_last)
        torch.backends.cudnn.benchmark = True
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = SwahrLoss(LossConfig(num_joints=get_arch(arch).num_joints))
    data_s, compute_s, cpu_s = [], [], []
    for it in range(iters + 1):  # the first iteration warms up and is not counted
        r0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        b = torch.utils.data.default_convert(make_batch(cfg, it))
        t1 = time.perf_counter()
        x = b["images"].to(device)
        if cuda:
            x = x.contiguous(memory_format=torch.channels_last)
        hms = [h.to(device) for h in b["heatmaps"]]
        masks = [m.to(device) for m in b["masks"]]
        idx = [i.to(device) for i in b["indices"]]
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=cuda):
            out = model(x)
        loss = loss_fn(out, hms, masks, idx).total
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if cuda:
            torch.cuda.synchronize(device)
        t2 = time.perf_counter()
        r1 = resource.getrusage(resource.RUSAGE_SELF)
        if it:
            data_s.append(t1 - t0)
            compute_s.append(t2 - t1)
            cpu_s.append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    data, compute = statistics.median(data_s), statistics.median(compute_s)
    return {"arch": arch, "params": count_parameters(model), "batch": batch, "size": size,
            "data_s": data, "compute_s": compute, "total_s": data + compute,
            "total_s_min": min(d + c for d, c in zip(data_s, compute_s)),
            "cpu_s": statistics.median(cpu_s), "iters": iters, "loadavg": os.getloadavg()[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--archs", nargs="+", default=["w8-tiny", "w16-small"])
    ap.add_argument("--batches", nargs="+", type=int, default=[2, 4, 8])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--iters", type=int, default=4, help="timed iterations per setting (median)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default="benchmarks/results/train_speed.json")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows = []
    print(f"{'arch':10} {'params':>8} {'batch':>5} {'size':>4} {'data s':>8} {'compute s':>10} "
          f"{'s/iter':>8} {'min s/it':>8} {'cpu s':>6} {'img/s':>6} {'load':>5}")
    for arch in args.archs:
        for batch in args.batches:
            r = measure(arch, batch, args.size, args.iters, device)
            rows.append(r)
            print(f"{arch:10} {r['params'] / 1e6:7.2f}M {batch:5d} {args.size:4d} {r['data_s']:8.3f} "
                  f"{r['compute_s']:10.3f} {r['total_s']:8.3f} {r['total_s_min']:8.3f} {r['cpu_s']:6.2f} "
                  f"{batch / r['total_s']:6.1f} {r['loadavg']:5.1f}", flush=True)
    meta = {"device": str(device), "threads": args.threads, "torch": torch.__version__,
            "machine": platform.processor() or platform.machine(),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None}
    write_json(args.json, {"meta": meta, "rows": rows})
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
