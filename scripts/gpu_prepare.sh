#!/usr/bin/env bash
# Stage, on the build machine, what the GPU machine lacks, as two git-ignored folders that a
# device `run` carries: .whl/ (wheels for Python 3.12 x86-64: pycocotools for scoring, munkres
# and yacs for the official parser, onnxslim for `swahr-infer export` in gpu_train.sh; the
# device has their dependencies) and .official/ (the official SWAHR code, lib/ and
# experiments/ only, for the end-to-end comparison with the official parser).  Neither is
# committed: the official code is only run beside ours, never copied into the project.
#
#   bash scripts/gpu_prepare.sh [OFFICIAL_CHECKOUT]   # default: the mirror fetched by the search tool
#
# Then one device call (carry [".whl", ".official"]):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
#     --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site &&
#   SWAHR_OFFICIAL_REPO=.official bash scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
official="${1:-/work/.mirror/greatlog+SWAHR-HumanPose/repo}"
for folder in .whl .official; do
  grep -qx "/$folder/" .git/info/exclude 2>/dev/null || echo "/$folder/" >> .git/info/exclude
done

rm -rf .whl && mkdir -p .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  -d .whl pycocotools==2.0.10
python3 -m pip download -q --no-deps --python-version 3.12 --only-binary=:all: -d .whl \
  munkres==1.1.4 yacs==0.1.8 onnxslim==0.1.98

rm -rf .official && mkdir -p .official
if [ -d "$official/.git" ] || [ -f "$official/HEAD" ]; then  # a checkout, or a bare mirror
  git -C "$official" archive HEAD lib experiments | tar -x -C .official
else
  cp -r "$official/lib" "$official/experiments" .official/
fi
du -sh .whl .official
ls .whl
