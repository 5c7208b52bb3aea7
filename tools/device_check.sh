#!/usr/bin/env bash
# GPU checks on a lent device machine (see tools/device_prepare.py for the two calls).
#   install  : install .device/a (anny) into /tmp/site, nothing else
#   (none)   : install .device/b, then gsplat parity, rasterizer and pipeline benchmarks on CUDA,
#              and the pipeline tests through the CUDA path; logs and JSON lines go to $OUT.
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/site:$PWD/backend:$PWD/tests
pip_install() { python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site "$@"; }
if [ "${1:-}" = "install" ]; then
    pip_install .device/a/*.whl && python3 -c "import anny; print('anny', anny.__version__)"
    exit
fi
pip_install .device/b/*.whl || exit
export CROWDGAUSSIAN_MODELS=$PWD/.device/b/models
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi -L | tee "$OUT/device.txt"
python3 -c "import torch, numpy; print('torch', torch.__version__, 'numpy', numpy.__version__)" | tee -a "$OUT/device.txt"
# gsplat JIT-compiles its CUDA kernels on first use (minutes); the parity test triggers it
python3 -m pytest -q -rs tests/test_render.py -k gsplat 2>&1 | tee "$OUT/parity.log"
python3 benchmarks/rasterizer.py 2>&1 | tee "$OUT/rasterizer.log"
python3 benchmarks/pipeline.py --device cuda 2>&1 | tee "$OUT/pipeline_cuda.log"
python3 -m pytest -q -rs tests/test_pipeline.py 2>&1 | tee "$OUT/pipeline_tests.log"
