#!/usr/bin/env bash
# The GPU measurement in one run, on a machine without Node.js or a registry: unpacks what prepare.sh put in .gpu/,
# runs the benchmark on WebGPU (BERT-base, batch 32 × 128: adapter training, fusion over 4 adapters, the adapter's
# matmul ceiling, each product of a step on tfjs-webgpu's kernel and on the framework's tiled one), times a plain PyTorch BERT-base with Pfeiffer bottleneck adapters at the same shapes (fp32 and bf16
# autocast), and prints one table. Results go to $OUT (or .gpu/results) as JSON.
# Usage (repository root, .gpu/ beside it): test/bench/gpu/measure.sh
# Smaller, e.g. on llvmpipe: MODEL=tiny BATCH=4 CEILING=256 STEPS=2 TORCH=0 VK_DRIVER_FILES= test/bench/gpu/measure.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
pack=$PWD/.gpu
[ -f "$pack/node.xz" ] || { echo "measure: $pack/node.xz is missing; run test/bench/gpu/prepare.sh on a machine with Node.js first" >&2; exit 1; }
results=${OUT:-$pack/results}
work=${TMPDIR:-/tmp}/adapterfusion-gpu
model=${MODEL:-base} batch=${BATCH:-32} ceiling=${CEILING:-4096} steps=${STEPS:-5} cases=${CASES:-adapter,fusion-4}
export VK_DRIVER_FILES=${VK_DRIVER_FILES-/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json}
[ -n "$VK_DRIVER_FILES" ] || unset VK_DRIVER_FILES
mkdir -p "$results" "$work/node_modules/webgpu/dist/linux-x64" "$work/lib"

# xz may be absent there; Python's lzma reads the same files.
unxz_to() { python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$1" "$2"; }
unxz_to "$pack/node.xz" "$work/node" && chmod +x "$work/node"
unxz_to "$pack/bench.js.xz" "$work/bench.js"
unxz_to "$pack/node_modules/webgpu/dist/linux-x64/dawn.node.xz" "$work/node_modules/webgpu/dist/linux-x64/dawn.node"
cp "$pack/node_modules/webgpu/index.js" "$pack/node_modules/webgpu/package.json" "$work/node_modules/webgpu/"
cp "$pack/lib/libvulkan.so.1" "$work/lib/"
cp "$pack/torch_bert_adapter.py" "$pack/report.py" "$work/"
export LD_LIBRARY_PATH=$work/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work}

command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$results/gpu.txt" || true
echo "node $("$work/node" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-(default)}"

"$work/node" "$work/bench.js" --backend webgpu --models "$model" --cases "$cases" --batch "$batch" --steps "$steps" \
  --warmup 2 --ceiling-size "$ceiling" --out "$results/webgpu.json" 2>&1 | grep -v '^Warning: maxDynamic' || echo "measure: the WebGPU benchmark failed" >&2

# Each product of a BERT-base step, on tfjs-webgpu's kernel and on the framework's tiled WGSL kernel.
for kernel in stock wgsl; do
  ADAPTERFUSION_WEBGPU_MATMUL=$kernel "$work/node" "$work/bench.js" --backend webgpu --matmul --ceiling-size "$ceiling" 2>&1 |
    grep -v '^Warning: maxDynamic' | tee "$results/matmul-$kernel.txt" || echo "measure: the $kernel product timing failed" >&2
done

if [ "${TORCH:-1}" = 1 ]; then
  python3 "$work/torch_bert_adapter.py" --model "$model" --batch "$batch" --seq 128 --cases "$cases" --steps "$((steps * 2))" \
    --out "$results/torch.json" || echo "measure: the PyTorch timing failed" >&2
fi
python3 "$work/report.py" "$results/webgpu.json" "$results/torch.json" | tee "$results/table.txt"
