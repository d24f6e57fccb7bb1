"""PyTorch reference for the GPU measurement: a training step of BERT (random weights, transformers' BertModel) with a
Pfeiffer bottleneck adapter after each layer's feed-forward output (reduction factor 16, ReLU), or AdapterFusion over N
such adapters; the backbone (and, for fusion, the adapters) frozen; AdamW; a classification head on the first token.
Timed in fp32 and under bf16 autocast at the benchmark's shapes. Writes JSON: one record per case and precision."""
import argparse
import json
import time

import torch
from torch import nn
from transformers import BertConfig, BertModel

SHAPES = {"tiny": (2, 128, 2), "mini": (4, 256, 4), "base": (12, 768, 12)}


class Adapter(nn.Module):
    def __init__(self, hidden, reduction=16):
        super().__init__()
        self.down = nn.Linear(hidden, hidden // reduction)
        self.up = nn.Linear(hidden // reduction, hidden)

    def forward(self, h):
        return h + self.up(torch.relu(self.down(h)))


class Fusion(nn.Module):
    """AdapterFusion: query from the sublayer output, keys and values from each adapter's output, softmax over them."""

    def __init__(self, hidden):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(hidden, hidden) for _ in range(3))

    def forward(self, h, outputs):  # h (B, T, D), outputs (B, T, N, D)
        scores = torch.einsum("btd,btnd->btn", self.query(h), self.key(outputs))
        mixed = torch.einsum("btn,btnd->btd", torch.softmax(scores, -1), self.value(outputs))
        return mixed + h


class AdaptedOutput(nn.Module):
    """BertOutput with the adapters (or their fusion) between the dense projection and the residual LayerNorm."""

    def __init__(self, output, adapters, fusion):
        super().__init__()
        self.output, self.adapters, self.fusion = output, nn.ModuleList(adapters), fusion

    def forward(self, hidden_states, input_tensor):
        h = self.output.dropout(self.output.dense(hidden_states))
        if self.fusion is None:
            h = self.adapters[0](h)
        else:
            h = self.fusion(h, torch.stack([adapter(h) for adapter in self.adapters], 2))
        return self.output.LayerNorm(h + input_tensor)


def build(model_name, adapters):
    layers, hidden, heads = SHAPES[model_name]
    config = BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads, intermediate_size=4 * hidden)
    bert = BertModel(config, add_pooling_layer=False)
    trainable = []
    for layer in bert.encoder.layer:
        members = [Adapter(hidden) for _ in range(adapters)]
        fusion = Fusion(hidden) if adapters > 1 else None
        layer.output = AdaptedOutput(layer.output, members, fusion)
        trainable += list((fusion or members[0]).parameters())
    head = nn.Sequential(nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 2))
    model = nn.ModuleDict({"bert": bert, "head": head}).cuda()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for parameter in trainable + list(head.parameters()):
        parameter.requires_grad_(True)
    return model, [p for p in model.parameters() if p.requires_grad]


def time_case(model_name, case, batch, seq, steps, dtype):
    adapters = 1 if case == "adapter" else int(case.split("-")[1])
    model, params = build(model_name, adapters)
    model.train()
    optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    ids = torch.randint(1000, 30000, (batch, seq), device="cuda")
    mask = torch.ones(batch, seq, dtype=torch.long, device="cuda")
    labels = torch.randint(0, 2, (batch,), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16"):
            hidden = model["bert"](input_ids=ids, attention_mask=mask).last_hidden_state
            loss = nn.functional.cross_entropy(model["head"](hidden[:, 0]).float(), labels)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    times = []
    for _ in range(steps):
        started = time.perf_counter()
        step()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    median = sorted(times)[len(times) // 2]
    return {"model": model_name, "case": case, "precision": dtype, "batch": batch, "stepMs": round(median * 1000, 2),
            "examplesPerSecond": round(batch / median, 2), "peakMiB": round(torch.cuda.max_memory_allocated() / 2**20)}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="base", choices=sorted(SHAPES))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq", type=int, default=128)
    parser.add_argument("--cases", default="adapter,fusion-4")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("torch: no CUDA device")
    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32, as WebGPU computes it
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": []}
    for case in args.cases.split(","):
        for dtype in ("fp32", "bf16"):
            record = time_case(args.model, case, args.batch, args.seq, args.steps, dtype)
            print(json.dumps(record), flush=True)
            results["results"].append(record)
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
    with open(args.out, "w") as file:
        json.dump(results, file, indent=2)


if __name__ == "__main__":
    main()
