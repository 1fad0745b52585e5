#!/usr/bin/env bash
# The CUDA backend's device check: ONE script for a machine with an NVIDIA GPU (written
# for the H200; any sm_80+ GPU works). Run from anywhere inside the repository:
#
#   native/dev/cuda-check.sh            build, test on cuda, time cuda vs cpu
#   native/dev/cuda-check.sh pack       (on a machine WITH node + node_modules, no GPU needed)
#                                       writes .devcarry/ for a GPU machine that has no Node
#                                       and no network (this project's lent H200 image); then
#                                       run the check there with carry [".devcarry", "dist"].
#
# What it checks, in order (each step has a timeout; the first failure stops it):
#   1. the GPU and toolkit: nvidia-smi -L, nvcc --version;
#   2. the build: `npm install` (or, with node_modules present or carried, `npm run install`),
#      which compiles native/src/cuda/*.cu with nvcc for sm_80 and sm_90, then tsc;
#      cudaInfo() must report devices >= 1 (else it stops, printing cudaInfo's error);
#   3. the op tests, test/kernels.test.ts: every op case on cpu AND cuda against the fp64
#      reference on Nano-9B shapes (linear matvec/GEMM over BF16/F16/F32/FP8 with tensor,
#      row and block scales; embedding; rmsnorm; gated rmsnorm; conv1d+SiLU; dt softplus;
#      SSM scan and step; GQA attention; relu²; add). Expected: all pass, none skipped;
#      normalised errors under the same bounds as the cpu kernels (1e-5 / 1e-6 / exact);
#   4. the model tests: test/model-cuda.test.ts (cuda vs cpu on a tiny Mamba/attention/
#      MLP/MoE model: full pass, decode from a cloned state, captures, a weight swap that
#      must drop the device's cached copy; the golden logits of HF transformers on cuda
#      within 1e-5 of max|golden|) and test/model-golden.test.ts (the same on cpu).
#      Expected: all pass, none skipped;
#   5. speed: bench/model.ts with NEMOTRON_LAB_BENCH_BACKENDS=cpu,cuda (HF peer off) on the 45M-parameter
#      bench checkpoint (BF16 and FP8 E4M3): decode and prefill tok/s on cpu, and on cuda
#      beside the cpu figure ("Nx cpu"). Expected: cuda decode well above cpu (a 45M model
#      is launch-bound on a GPU: tens of kernels per layer, so expect hundreds to a few
#      thousand tok/s, not the bandwidth roofline), cuda prefill far above cpu.
# Output: everything is also written to $OUT/cuda-check.log when $OUT is set (device tool).
set -euo pipefail
cd "$(git rev-parse --show-toplevel 2>/dev/null || (cd "$(dirname "$0")/../.." && pwd))"
LOG="${OUT:-/tmp}/cuda-check.log"
exec > >(tee "$LOG") 2>&1
step() { echo; echo "=== $* ($(date +%T))"; }

if [[ "${1:-}" == "pack" ]]; then
  # Node, node-gyp, the node headers (no openssl) and the project's node_modules, as xz tarballs.
  rm -rf .devcarry && mkdir -p .devcarry
  # (.devcarry/ is in .gitignore)
  NODE_BIN="$(readlink -f "$(command -v node)")"; NODE_PREFIX="$(dirname "$(dirname "$NODE_BIN")")"
  GYP="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp"
  tar -cJf .devcarry/node.tar.xz -C "$(dirname "$NODE_BIN")" node
  tar -cJf .devcarry/headers.tar.xz --exclude=openssl -C "$NODE_PREFIX" include/node
  tar -cJf .devcarry/node-gyp.tar.xz -C "$(dirname "$GYP")" node-gyp
  tar -cJf .devcarry/node_modules.tar.xz --exclude='node_modules/typescript' --exclude='node_modules/@tslab' \
    --exclude='node_modules/zeromq' --exclude='node_modules/plotly.js-dist-min' node_modules
  npx tsc -p tsconfig.json
  du -sh .devcarry dist
  echo "carry: [\".devcarry\", \"dist\"]   (64 MiB in all; dist is the compiled TypeScript)"
  exit 0
fi

step "1. GPU and toolkit"
command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "(no nvidia-smi)"
NVCC="${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"; [[ -x "$NVCC" ]] || NVCC="$(command -v nvcc || true)"
[[ -n "$NVCC" ]] && "$NVCC" --version | tail -2 || { echo "FAIL: no nvcc (set CUDA_HOME)"; exit 1; }

step "2. build"
if [[ -d .devcarry ]]; then  # a machine without Node or network: use what `pack` carried
  mkdir -p /tmp/nl-node/bin /tmp/nl-node/lib
  tar -xJf .devcarry/node.tar.xz -C /tmp/nl-node/bin
  tar -xJf .devcarry/headers.tar.xz -C /tmp/nl-node
  tar -xJf .devcarry/node-gyp.tar.xz -C /tmp/nl-node/lib
  [[ -d node_modules ]] || tar -xJf .devcarry/node_modules.tar.xz
  export PATH="/tmp/nl-node/bin:$PATH"
  (cd native && timeout 900 node /tmp/nl-node/lib/node-gyp/bin/node-gyp.js rebuild --nodedir=/tmp/nl-node)
  [[ -d dist ]] || { echo "FAIL: carry dist/ (compiled TypeScript) with .devcarry"; exit 1; }
elif [[ -d node_modules ]]; then
  timeout 900 npm run install
  timeout 300 npx tsc -p tsconfig.json
else
  timeout 1200 npm install
  timeout 300 npx tsc -p tsconfig.json
fi
node -e '
  const ci = require("./dist/src/index.js").native().cudaInfo();
  console.log("cudaInfo:", JSON.stringify(ci));
  if (!ci.compiled || ci.devices < 1) { console.error("FAIL: no usable CUDA device: " + ci.error); process.exit(1); }'

VITEST="node node_modules/vitest/vitest.mjs run"
step "3. op tests (cpu and cuda vs reference)"
timeout 900 $VITEST test/kernels.test.ts

step "4. model tests (cuda vs cpu, golden logits on cuda and cpu)"
timeout 900 $VITEST test/model-cuda.test.ts test/model-golden.test.ts

step "5. speed: 45M bench checkpoint, cpu vs cuda"
NEMOTRON_LAB_BENCH_BACKENDS=cpu,cuda NEMOTRON_LAB_BENCH_NO_HF=1 timeout 900 node dist/bench/run.js model

step "done: all checks passed"
