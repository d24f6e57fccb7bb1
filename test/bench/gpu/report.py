"""One table from the WebGPU benchmark's JSON and the PyTorch timing's JSON (either may be missing)."""
import json
import os
import sys


def load(path):
    if not os.path.exists(path):
        return None
    with open(path) as file:
        return json.load(file)


webgpu, torch = load(sys.argv[1]), load(sys.argv[2])
if webgpu:
    ceiling = webgpu.get("matMulCeilingGflops")
    print(f"webgpu adapter: {webgpu.get('adapter')}; matmul ceiling {ceiling} GFLOP/s ({webgpu.get('matMulCeilingSize')}² products)")
if torch:
    print(f"torch {torch['torch']} on {torch['device']}")
print(f"{'case':<10} {'batch':>5} {'webgpu ex/s':>12} {'GFLOP/s':>9} {'% ceiling':>9} {'torch fp32':>11} {'torch bf16':>11} {'webgpu/fp32':>12}")
cases = {}
for result in (webgpu or {}).get("results", []):
    cases.setdefault(result["case"], {})["webgpu"] = result
for result in (torch or {}).get("results", []):
    cases.setdefault(result["case"], {})[result["precision"]] = result
for case, found in cases.items():
    ours, fp32, bf16 = found.get("webgpu"), found.get("fp32"), found.get("bf16")
    ceiling = (webgpu or {}).get("matMulCeilingGflops")
    share = f"{100 * ours['effectiveGflops'] / ceiling:.0f}%" if ours and ceiling else "-"
    ratio = f"{ours['examplesPerSecond'] / fp32['examplesPerSecond']:.2f}x" if ours and fp32 else "-"
    batch = (ours or fp32 or bf16)["batch"]
    cell = lambda record, key: f"{record[key]}" if record else "-"
    print(f"{case:<10} {batch:>5} {cell(ours, 'examplesPerSecond'):>12} {cell(ours, 'effectiveGflops'):>9} {share:>9} "
          f"{cell(fp32, 'examplesPerSecond'):>11} {cell(bf16, 'examplesPerSecond'):>11} {ratio:>12}")
