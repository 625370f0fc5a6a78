#!/usr/bin/env bash
# The GPU benchmark, from a bare machine that has PyTorch (with its LibTorch), cmake, ninja and
# nvcc: builds the engine-only mode against PyTorch's LibTorch, then runs bench/gpu/run.py,
# which prints one table and writes it to $OUT when set.
#
#   bench/gpu/run.sh                   on GPU 0, the sizes of docs/gpu.md (about 5 minutes on an H200)
#   bench/gpu/run.sh --device cpu --quick
#                                      the same script end to end on the CPU with small sizes:
#                                      how CI keeps it from rotting (scripts/check-engine-only)
# Environment: PYTHON (default python3, the one with torch), MW_GPU_BUILD (default
# build-gpu), CMAKE_CUDA_ARCHITECTURES (default 90: H100/H200).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
BUILD=${MW_GPU_BUILD:-build-gpu}

prefix=$("$PYTHON" -c 'import torch; print(torch.utils.cmake_prefix_path)')
# A PyTorch wheel brings NCCL as the nvidia-nccl package; a system install has it under CUDA.
nccl_root=$("$PYTHON" -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
mkdir -p "$BUILD"
cmake -S . -B "$BUILD" "${generator[@]}" -DMW_ENGINE_ONLY=ON -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$prefix" ${nccl_root:+-DMW_NCCL_ROOT="$nccl_root"} \
  -DCMAKE_CUDA_ARCHITECTURES="${CMAKE_CUDA_ARCHITECTURES:-90}" >"$BUILD/configure.log" 2>&1 ||
  { cat "$BUILD/configure.log"; exit 1; }
grep "millionway:" "$BUILD/configure.log"
jobs=$(nproc)
[ "$jobs" -gt 16 ] && jobs=16
cmake --build "$BUILD" -j"$jobs"
exec "$PYTHON" bench/gpu/run.py --build "$BUILD" "$@"
