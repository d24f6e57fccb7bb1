#!/usr/bin/env bash
# Packs what test/bench/gpu/measure.sh needs on a GPU machine that has no Node.js and reaches no registry into .gpu/
# (ignored by git), under the 64 MiB that travel: this machine's node binary (xz), the benchmark bundled with esbuild,
# Dawn's linux-x64 dawn.node with the `webgpu` package's loader, and the Vulkan loader library.
# Usage: npm run build && test/bench/gpu/prepare.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
out=.gpu
limit=$((64 * 1024 * 1024))
[ -f dist/test/bench/bench.js ] || { echo "prepare: dist/test/bench/bench.js is missing; run npm run build first" >&2; exit 1; }
dawn=node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn" ] || { echo "prepare: $dawn is missing; run npm install (webgpu is an optional dependency)" >&2; exit 1; }
vulkan=$(ldconfig -p | awk '/libvulkan\.so\.1 .*x86-64/ { print $NF; exit }')
[ -n "$vulkan" ] || { echo "prepare: the Vulkan loader libvulkan.so.1 is not installed (apt-get install libvulkan1)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/node_modules/webgpu/dist/linux-x64" "$out/lib"
xz -T0 -6 -c "$(readlink -f "$(command -v node)")" > "$out/node.xz"
# The webgpu package is ESM that finds dawn.node beside itself, so it travels as a package, not in the bundle.
cp node_modules/webgpu/index.js node_modules/webgpu/package.json "$out/node_modules/webgpu/"
xz -T0 -6 -c "$dawn" > "$out/node_modules/webgpu/dist/linux-x64/dawn.node.xz"
cp -L "$vulkan" "$out/lib/libvulkan.so.1"
npx esbuild dist/test/bench/bench.js --bundle --platform=node --target=node20 --log-level=error \
  --external:webgpu --outfile="$out/bench.js"
xz -T0 -6 "$out/bench.js"
cp test/bench/gpu/torch_bert_adapter.py test/bench/gpu/report.py "$out/"

size=$(du -sb "$out" | cut -f1)
echo "prepare: $out holds $((size / 1024 / 1024)) MiB:"
( cd "$out" && find . -type f -printf '  %p %s bytes\n' | sort )
[ "$size" -le "$limit" ] || { echo "prepare: $out is over 64 MiB" >&2; exit 1; }
