#!/usr/bin/env bash
# The CUDA backend's device check: one script, one run, for a GPU machine that has nvcc, a C++
# compiler and Python but no Node.js and no network (the lent H200). See native/dev/README.md.
#
#   native/dev/cuda-check.sh             build device_check with CUDA, run it, print the table
#   native/dev/cuda-check.sh --dry-run   build it without CUDA and run the CPU half (the
#                                        reference backend plays the device): what CI runs
#
# Steps (each under a timeout; 6 minutes in all on an H200 with 16 cores):
#   1. toolkit and GPU (nvcc --version, nvidia-smi -L);
#   2. build: every native/src source but the N-API glue, compiled in parallel (g++ for .cc,
#      nvcc for .cu: sm_80 and sm_90a), linked with the static CUDA runtime;
#   3. native/dev/device_check: ops, model, speed (see its header); RESULT lines -> the table.
# Output also goes to $OUT/cuda-check.log when $OUT is set (the device tool brings $OUT back).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
DRY=0
for a in "$@"; do
  case "$a" in
    --dry-run) DRY=1 ;;
    *) echo "usage: native/dev/cuda-check.sh [--dry-run]" >&2; exit 2 ;;
  esac
done
BUILD="${NL_CHECK_BUILD:-$ROOT/native/build/device-check$([[ $DRY == 1 ]] && echo -dry)}"
LOG="${OUT:-$BUILD}/cuda-check.log"
mkdir -p "$BUILD" "$(dirname "$LOG")"
exec > >(tee "$LOG") 2>&1
JOBS="$(nproc 2>/dev/null || echo 2)"
step() { echo; echo "=== $* ($(date +%T))"; }

step "1. toolkit and GPU"
CXX="${CXX:-g++}"
command -v "$CXX" >/dev/null || { echo "FAIL: no C++ compiler ($CXX)"; exit 1; }
"$CXX" --version | head -1
NVCC=""
if [[ $DRY == 0 ]]; then
  for c in "${CUDA_HOME:-}" "${CUDA_PATH:-}" /usr/local/cuda; do
    [[ -n "$c" && -x "$c/bin/nvcc" ]] && { NVCC="$c/bin/nvcc"; break; }
  done
  [[ -z "$NVCC" ]] && NVCC="$(command -v nvcc || true)"
  [[ -z "$NVCC" ]] && { echo "FAIL: no nvcc (set CUDA_HOME), or run with --dry-run"; exit 1; }
  CUDA_ROOT="$(cd "$(dirname "$NVCC")/.." && pwd)"
  "$NVCC" --version | tail -2
  command -v nvidia-smi >/dev/null && nvidia-smi -L || echo "(no nvidia-smi)"
fi

step "2. build ($JOBS jobs$([[ $DRY == 1 ]] && echo ', no CUDA'))"
CXXFLAGS=(-std=c++17 -O3 -fexceptions -ffp-contract=off -Wall -Wno-unused-function -Wno-psabi -fPIC -Inative/src)
[[ $DRY == 0 ]] && CXXFLAGS+=(-DNL_WITH_CUDA=1 "-I$CUDA_ROOT/include")
SOURCES=(native/src/mapped_file.cc native/src/thread_pool.cc native/src/cpu/*.cc native/src/model/*.cc native/dev/device_check.cc)
CUDA_SOURCES=()
[[ $DRY == 0 ]] && CUDA_SOURCES=(native/src/cuda/*.cu)
# The newest header: an object older than it (or than its source) is rebuilt.
HEADERS_STAMP="$BUILD/headers.stamp"
touch -d "@$(find native/src -name '*.h' -o -name '*.cuh' | xargs stat -c %Y | sort -n | tail -1)" "$HEADERS_STAMP"
compile() {  # one source -> one object under $BUILD; prints the command's errors only
  local src=$1 obj="$BUILD/obj/${1//\//_}.o"
  mkdir -p "$BUILD/obj"
  [[ -f "$obj" && "$obj" -nt "$src" && "$obj" -nt "$HEADERS_STAMP" ]] && return 0
  if [[ $src == *.cu ]]; then
    "$NVCC" -c -O3 -std=c++17 -Xcompiler -fPIC -Inative/src \
      -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90a,code=sm_90a "$src" -o "$obj"
  else
    "$CXX" "${CXXFLAGS[@]}" -c "$src" -o "$obj"
  fi || { echo "FAIL: compiling $src"; return 1; }
}
t0=$SECONDS
failed=0
pids=()  # a FIFO of at most $JOBS compiles (explicit pids: a bare `wait` would also wait for tee)
for src in "${SOURCES[@]}" "${CUDA_SOURCES[@]}"; do
  if (( ${#pids[@]} >= JOBS )); then wait "${pids[0]}" || failed=1; pids=("${pids[@]:1}"); fi
  compile "$src" &
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[[ $failed == 0 ]] || { echo "FAIL: build"; exit 1; }
LIBS=(-lpthread -ldl)
[[ $DRY == 0 ]] && LIBS=("$CUDA_ROOT/lib64/libcudart_static.a" -ldl -lrt -lpthread)
"$CXX" -o "$BUILD/device_check" "$BUILD"/obj/*.o "${LIBS[@]}" || { echo "FAIL: link"; exit 1; }
echo "built $BUILD/device_check in $((SECONDS - t0)) s"

step "3. device_check"
ARGS=()
[[ $DRY == 1 ]] && ARGS+=(--dry-run)
timeout "${NL_CHECK_TIMEOUT:-330}" "$BUILD/device_check" "${ARGS[@]}"
rc=$?
[[ $rc == 124 ]] && echo "FAIL: device_check ran past its ${NL_CHECK_TIMEOUT:-330} s (the table has what finished)"

step "summary"
grep '^RESULT ' "$LOG" | sed 's/^RESULT //' |
  awk -F' \\| ' '{ printf "%-5s %-86s %-34s %-26s %s\n", $4, $1, $2, $3, "" }' | sed 's/ *$//'
fails=$(grep -c '^RESULT .*| FAIL$' "$LOG")
echo "$(grep -c '^RESULT ' "$LOG") checks, $fails failed (log: $LOG)"
[[ $rc == 0 && $fails == 0 ]]
