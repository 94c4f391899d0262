"""A training step captured once as a CUDA graph and replayed (``swahr-infer train --cuda-graphs``).

Why: the models trained here are small (the bundled w16-small has 1.5 M parameters) and HRNet
runs thousands of small operators a step; in eager PyTorch the host issues them one by one,
which can take longer than the GPU takes to run them.  A replay issues the whole step at once.

What a graph needs, and how each is met here:

* fixed inputs: every iteration's batch is copied into the same device tensors
  (:class:`StaticBatch`), so batch and input size cannot change within a run;
* an optimiser that works inside a graph: Adam's capturable form, with the learning rate a
  device tensor that the schedule writes into before each replay (:func:`capturable_adam`);
* autocast without its weight-cast cache (cached casts would live outside the graph's memory).

The first ``warmup`` calls are ordinary eager steps on a side stream (cuDNN picks its
algorithms, Adam creates its state), as PyTorch's CUDA-graph notes ask; the next call captures
and replays, and every later call replays.  Each call is exactly one training step on the batch
it is given, so a run with graphs sees the same batches and schedule as one without; the
weights agree up to float rounding (tests/gpu/test_graph_step.py).
"""

from __future__ import annotations

import copy
from typing import Dict, List, Optional

import torch

from .losses import LossTerms, SwahrLoss


def _as_list(value) -> List[torch.Tensor]:
    return value if isinstance(value, list) else [value]


class StaticBatch:
    """The device tensors a captured step reads: :meth:`load` copies each new batch into them
    (allocated from the first batch) and returns the same dict every time."""

    def __init__(self):
        self.batch: Optional[Dict[str, object]] = None

    def load(self, batch: Dict[str, object]) -> Dict[str, object]:
        if self.batch is None:
            self.batch = {key: [t.clone() for t in value] if isinstance(value, list) else value.clone()
                          for key, value in batch.items()}
            return self.batch
        for key, value in batch.items():
            for static, new in zip(_as_list(self.batch[key]), _as_list(value)):
                static.copy_(new, non_blocking=True)
        return self.batch


def capturable_adam(optimizer: torch.optim.Adam) -> torch.optim.Adam:
    """A capturable Adam over the same parameters with the same settings and a copy of the
    state: the learning rate becomes a device tensor and the step counts move to the device.

    A copy, because ``load_state_dict`` keeps tensors that already have the parameters' dtype
    and device as they are: the two optimisers would otherwise share their moment tensors, and
    stepping one would move the other."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    device = params[0].device
    adam = torch.optim.Adam(params, lr=torch.tensor(1.0, device=device), capturable=True)
    adam.load_state_dict(copy.deepcopy(portable_state(optimizer)))
    for group in adam.param_groups:
        group["lr"] = torch.tensor(float(group["lr"]), device=device)
        group["capturable"] = True
    for state in adam.state.values():
        state["step"] = state["step"].to(device=device, dtype=torch.float32)
    return adam


def portable_state(optimizer: torch.optim.Optimizer) -> dict:
    """The optimiser's state dict as a plain Adam keeps it (a float rate, step counts on the
    CPU), so a checkpoint resumes with or without graphs.  For a plain Adam it is its state dict."""
    state = optimizer.state_dict()
    groups = [{**group, "lr": float(group["lr"]), "capturable": False} for group in state["param_groups"]]
    per_param = {key: {**value, "step": value["step"].detach().to("cpu", torch.float32)} if "step" in value
                 else value for key, value in state["state"].items()}
    return {"state": per_param, "param_groups": groups}


class GraphedStep:
    """One model's training step (bf16 autocast forward unless ``autocast=False``, SWAHR loss,
    backward, Adam), replayed from a CUDA graph after ``warmup`` eager calls.  ``step(batch, lr)``
    returns the loss terms; after the capture they are the graph's output tensors, rewritten by
    each replay.

    model: on CUDA, channels-last; optimizer: the plain Adam the trainer made (its state carries
    over; use :attr:`optimizer`, the capturable one, from then on).  From the capture on, ``batch``
    must be the dict :meth:`StaticBatch.load` returns.
    """

    def __init__(self, model: torch.nn.Module, optimizer: torch.optim.Adam, loss_fn: SwahrLoss,
                 warmup: int = 3, autocast: bool = True):
        self.model, self.loss_fn, self.warmup, self.autocast = model, loss_fn, warmup, autocast
        self.optimizer = capturable_adam(optimizer)
        self.calls = 0
        self.graph: Optional[torch.cuda.CUDAGraph] = None
        self.batch: Optional[Dict[str, object]] = None
        self.terms: Optional[LossTerms] = None

    def _forward_backward(self, batch: Dict[str, object]) -> LossTerms:
        images = batch["images"].contiguous(memory_format=torch.channels_last)
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=self.autocast,
                            cache_enabled=False):
            outputs = self.model(images)
        terms = self.loss_fn(outputs, batch["heatmaps"], batch["masks"], batch["indices"])
        terms.total.backward()
        return terms

    def __call__(self, batch: Dict[str, object], lr: float) -> LossTerms:
        for group in self.optimizer.param_groups:
            group["lr"].fill_(lr)
        self.calls += 1
        if self.calls <= self.warmup:
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                self.optimizer.zero_grad(set_to_none=True)
                terms = self._forward_backward(batch)
                self.optimizer.step()
            torch.cuda.current_stream().wait_stream(side)
            return terms
        if self.graph is None:
            self.optimizer.zero_grad(set_to_none=True)  # the captured backward allocates them
            self.batch, self.graph = batch, torch.cuda.CUDAGraph()
            # thread-local: the DataLoader's pinning thread allocates host memory meanwhile
            with torch.cuda.graph(self.graph, capture_error_mode="thread_local"):
                self.terms = self._forward_backward(batch)
                self.optimizer.step()
        elif batch is not self.batch:
            raise ValueError("a captured step reads fixed tensors: pass the dict StaticBatch.load returns")
        self.graph.replay()
        return self.terms
