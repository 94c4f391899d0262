#!/usr/bin/env bash
# The GPU check of swahr-infer: the one script a session with a lent CUDA GPU runs.
#
#   bash scripts/gpu_check.sh            # results in $OUT (the device tool's folder), else out/gpu_check
#   SWAHR_OFFICIAL_REPO=.official bash scripts/gpu_check.sh   # + the official pipeline's rows
#                                        # (.official and .whl staged by scripts/gpu_prepare.sh)
#   STEPS="env ptxas tests" bash scripts/gpu_check.sh          # some steps (default: all four,
#                                        # env ptxas tests bench), e.g. tests beside a training run
#
# Needs only what the device machine has (python3 with torch, cupy-cuda13x, onnx,
# onnxruntime (CPU), opencv, scipy, pytest, nvcc); installs nothing and needs no network.
# Budget: under 8 minutes on an H100 / H200, NVRTC compiles included: the steps are capped at
# 2 (kernels) + 4 (tests) + 4 (benchmark) minutes and expected to take about half that.  Each
# step has its own timeout so that one hang cannot eat the lease, and every step runs even if an
# earlier one failed.  Writes (at most 8 files, as the device tool brings back):
#   env.txt         GPU, driver, versions, OpenCV warp algorithm
#   ptxas.txt       nvcc -Xptxas -v resource report of every kernel (registers, smem, spills)
#   gpu_tests.txt   pytest -m gpu tests/gpu tests/trt
#   gpu_bench.txt   benchmarks/gpu_bench.py table;  gpu_bench.json  its numbers
set -x
set -o pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-out/gpu_check}"
mkdir -p "$OUT"
export PYTHONPATH=".${PYTHONPATH:+:$PYTHONPATH}"  # keeps carried wheels (/tmp/site) importable
export PYTHONUNBUFFERED=1
STEPS=" ${STEPS:-env ptxas tests bench} "
status=0
step() { [[ "$STEPS" == *" $1 "* ]]; }

if step env; then {
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.mem --format=csv
  python3 - <<'PY'
import cv2, cupy, numpy, torch
from swahr_infer.gpu.preprocess import warp_mode
print("python", __import__("sys").version.split()[0], "numpy", numpy.__version__,
      "torch", torch.__version__, "cuda", torch.version.cuda, "cupy", cupy.__version__,
      "opencv", cv2.__version__, "warp", warp_mode())
print("cupy device", cupy.cuda.runtime.getDeviceProperties(0)["name"])
PY
} 2>&1 | tee "$OUT/env.txt" || status=1; fi

# compile every kernel for the chip (catches what NVRTC would reject, and shows spills)
if step ptxas; then (
  rc=0
  for source in swahr_infer/gpu/kernels/*.cu; do
    timeout 30 nvcc -arch=sm_90 -cubin -Xptxas -v -o "/tmp/$(basename "$source" .cu).cubin" \
      "$source" || rc=1
  done
  exit $rc
) 2>&1 | tee "$OUT/ptxas.txt" || status=1; fi

if step tests; then
  timeout 240 python3 -m pytest -m gpu tests/gpu tests/trt -q -rs --tb=short -p no:cacheprovider \
    2>&1 | tee "$OUT/gpu_tests.txt" || status=1
fi

if step bench; then
  timeout 240 python3 benchmarks/gpu_bench.py --runs 20 --json "$OUT/gpu_bench.json" \
    ${SWAHR_OFFICIAL_REPO:+--official-repo "$SWAHR_OFFICIAL_REPO"} \
    2>&1 | tee "$OUT/gpu_bench.txt" || status=1
fi

exit $status
