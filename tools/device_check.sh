#!/usr/bin/env bash
# GPU checks on a lent device machine, in one call (see tools/device_prepare.py):
#   carry [".device/gpu"], command `bash tools/device_check.sh`.
# Builds gsplat's CUDA kernels, then: the gsplat parity test, the rasterizer benchmark's gsplat
# columns with parity numbers (RASTER=0 skips them), the pipeline benchmark on bus.jpg with
# --device cuda (previews kept) and with --device cpu on the same host, both profiled, and, time
# allowing, the pipeline tests with their bundles made on CUDA. Steps that would not
# finish before BUDGET seconds are skipped; logs, JSON lines and previews go to $OUT.
set -uo pipefail
START=$SECONDS BUDGET=${BUDGET:-540}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
left() { echo $((BUDGET - (SECONDS - START))); }
step() { echo "== $(date +%T) [$(left) s left] $*"; }
SITE=/tmp/cg-site
mkdir -p $SITE /tmp/home && tar -xJf .device/gpu/site.tar.xz -C $SITE && tar -xJf .device/gpu/models.tar.xz -C /tmp || exit
export PYTHONUNBUFFERED=1 PYTHONPATH=$SITE:$PWD/backend:$PWD/tests HOME=/tmp/home CROWDGAUSSIAN_MODELS=/tmp/models
export PATH=$PATH:/usr/local/cuda/bin TORCH_CUDA_ARCH_LIST=9.0 MAX_JOBS=16  # H100/H200 are sm_90
step environment
{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc
  python3 -c "import sys, torch, numpy, numba; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available(), 'numpy', numpy.__version__, 'numba', numba.__version__)"
  nvcc --version | tail -1; } 2>&1 | tee "$OUT/device.txt"
# anny's first-load cache and our numba kernels build on the CPU while gsplat compiles
python3 -c "from crowdgaussian.bodies.model import load_body_model; from crowdgaussian.render import warmup; load_body_model(); warmup()" > /tmp/warm.log 2>&1 &
step "gsplat build"
T0=$SECONDS
VERBOSE=1 timeout $(($(left) - 200)) python3 -c "from gsplat.cuda._backend import _C; assert _C is not None" > "$OUT/gsplat_build.log" 2>&1
RC=$?; echo "gsplat build rc=$RC in $((SECONDS - T0)) s" | tee -a "$OUT/device.txt"
if [ $RC -ne 0 ]; then tail -30 "$OUT/gsplat_build.log"; rm -rf $SITE/gsplat; fi  # no retries in later steps
step "render tests (gsplat parity)"
timeout 150 python3 -m pytest -q -rs -p no:cacheprovider tests/test_render.py 2>&1 | tee "$OUT/render_tests.log" | tail -25
step "rasterizer benchmark (gsplat)"
[ $RC -eq 0 ] && [ "${RASTER:-1}" = 1 ] && timeout 150 python3 benchmarks/rasterizer.py --cuda-only --threads 16 2>&1 | tee "$OUT/rasterizer.log"
wait; tail -3 /tmp/warm.log
step "pipeline benchmark --device cuda"
timeout $(($(left) > 60 ? $(left) - 20 : 40)) python3 benchmarks/pipeline.py --device cuda --profile 25 --out /tmp/bus > "$OUT/pipeline_cuda.log" 2>&1
tail -12 "$OUT/pipeline_cuda.log"
cp /tmp/bus/previews/overlay.png /tmp/bus/previews/views.png "$OUT/" 2>/dev/null
if [ "$(left)" -gt 100 ]; then
    step "pipeline benchmark --device cpu (same host)"
    timeout $(($(left) - 20)) python3 benchmarks/pipeline.py --device cpu --profile 25 > "$OUT/pipeline_cpu.log" 2>&1
    tail -12 "$OUT/pipeline_cpu.log"
fi
if [ "$(left)" -gt 200 ]; then
    step "pipeline tests (CUDA path)"
    CROWDGAUSSIAN_TEST_DEVICE=cuda timeout $(($(left) - 10)) python3 -m pytest -q -rs -p no:cacheprovider tests/test_pipeline.py 2>&1 | tee "$OUT/pipeline_tests.log" | tail -25
fi
step done
