"""DSA: dense vs sparse attention, forward time and attention FLOPs, side by side in one run.

For each sequence length T, on the bootstrap model's shape (4 layers, hidden 128, 4 heads of 32; random
weights, so that T may exceed its 512 trained positions) with top-k K and a lightning indexer (4 x 32):
- attention FLOPs per layer (analytic): dense causal QK^T + PV against the top-k's QK^T + PV plus the
  indexer (its eq.-1 scores over every causal pair and its projections); their ratio;
- one layer's attention core, measured: dense causal (sdpa), the indexer's scores + top-k, and attention
  over the gathered top-k keys only (what a sparse kernel computes), and sparse total / dense;
- the whole model's forward, measured: dense (sdpa and eager) and `enable_dsa` (this project's reference
  implementation: the top-k is a mask on dense eager attention, so it costs more than dense, not less).
Timings interleave the sides (median of --repeats, after a warm-up) on one torch thread by default.
Usage: python bench/dsa.py [--lengths 256,512,1024,2048] [--topk 64] [--repeats 5] [--threads 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from transformers import LlamaConfig, LlamaForCausalLM  # noqa: E402

from services.lm.bootstrap import BootstrapConfig  # noqa: E402
from services.trainer.dsa.attention import enable_dsa  # noqa: E402
from services.trainer.dsa.functional import topk_keys  # noqa: E402
from services.trainer.dsa.indexer import LightningIndexer  # noqa: E402

INDEX_HEADS, INDEX_DIM = 4, 32  # the defaults of enable_dsa and `cppforge dsa`; --index-heads/--index-dim


def attention_flops(
    length: int, *, heads: int, head_dim: int, hidden: int, topk: int, index_heads: int, index_dim: int
) -> dict[str, float]:
    """Multiply-adds x 2 of one layer's attention core (projections shared by both sides left out)."""
    causal_pairs = length * (length + 1) // 2
    sparse_pairs = sum(min(t + 1, topk) for t in range(length))
    dense = 4 * causal_pairs * heads * head_dim  # QK^T and PV over the causal keys
    sparse = 4 * sparse_pairs * heads * head_dim  # the same over the top-k keys
    index_scores = 2 * causal_pairs * index_heads * (index_dim + 1)  # q.k per head, then the w-weighted sum
    index_proj = 2 * length * hidden * (index_heads * index_dim + index_dim + index_heads)
    return {
        "dense_flops": dense,
        "sparse_flops": sparse,
        "indexer_flops": index_scores + index_proj,
        "flops_ratio": (sparse + index_scores + index_proj) / dense,
    }


def gathered_topk_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, selected: torch.Tensor) -> torch.Tensor:
    """Attention over each query's selected keys only. q/k/v (1, H, T, d); selected (1, T, S) bool."""
    topk = int(selected.sum(-1).max())
    index = selected.float().topk(topk, dim=-1).indices[0]  # (T, k) positions of the selected keys
    valid = selected[0].gather(-1, index)  # (T, k): short rows (t + 1 < k) pad with unselected keys
    heads, length, dim = q.shape[1:]
    k_sel = k[0].index_select(1, index.flatten()).view(heads, length, topk, dim)  # (H, T, k, d)
    v_sel = v[0].index_select(1, index.flatten()).view(heads, length, topk, dim)  # (H, T, k, d)
    scores = (q[0].unsqueeze(-2) @ k_sel.transpose(-1, -2)).squeeze(-2) * dim**-0.5  # (H, T, k)
    probs = torch.softmax(scores.masked_fill(~valid, float("-inf")), dim=-1)  # (H, T, k)
    return (probs.unsqueeze(-2) @ v_sel).squeeze(-2)[None]  # (1, H, T, d)


def median_s(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def interleaved(sides: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median seconds of each side, the sides taking turns so that a busy neighbour slows all alike."""
    for fn in sides.values():
        fn()  # warm-up
    runs: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, fn in sides.items():
            runs[name].append(median_s(fn, 1))
    return {name: statistics.median(ts) for name, ts in runs.items()}


def core_timings(
    length: int, *, topk: int, cfg: BootstrapConfig, repeats: int, index: tuple[int, int]
) -> dict[str, float]:
    heads, head_dim = cfg.num_heads, cfg.hidden_size // cfg.num_heads
    gen = torch.Generator().manual_seed(length)
    q, k, v = (torch.randn(1, heads, length, head_dim, generator=gen) for _ in range(3))
    hidden = torch.randn(1, length, cfg.hidden_size, generator=gen)
    indexer = LightningIndexer(hidden_size=cfg.hidden_size, index_heads=index[0], index_dim=index[1])
    causal = torch.ones(length, length, dtype=torch.bool).tril()[None]  # (1, T, S)
    selected = topk_keys(indexer(hidden), causal, topk)

    def select() -> torch.Tensor:
        return topk_keys(indexer(hidden), causal, topk)

    with torch.no_grad():
        t = interleaved(
            {
                "dense_core_s": lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True),
                "indexer_s": select,
                "sparse_core_s": lambda: gathered_topk_attention(q, k, v, selected),
            },
            repeats,
        )
    t["sparse_total_s"] = t["indexer_s"] + t["sparse_core_s"]
    t["core_time_ratio"] = t["sparse_total_s"] / t["dense_core_s"]
    return t


def model_timings(
    length: int, *, topk: int, cfg: BootstrapConfig, repeats: int, index: tuple[int, int]
) -> dict[str, float]:
    config = dict(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=max(length, cfg.max_position_embeddings),
    )
    torch.manual_seed(0)
    # one config object each: the attention implementation is a field of the config
    sdpa = LlamaForCausalLM(LlamaConfig(**config)).eval()
    eager = LlamaForCausalLM(LlamaConfig(**config)).eval()
    eager.load_state_dict(sdpa.state_dict())
    eager.set_attn_implementation("eager")
    sparse = LlamaForCausalLM(LlamaConfig(**config)).eval()
    sparse.load_state_dict(sdpa.state_dict())
    enable_dsa(sparse, topk=topk, index_heads=index[0], index_dim=index[1])
    ids = torch.randint(0, cfg.vocab_size, (1, length), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        t = interleaved(
            {
                "model_dense_sdpa_s": lambda: sdpa(ids, use_cache=False),
                "model_dense_eager_s": lambda: eager(ids, use_cache=False),
                "model_dsa_mask_s": lambda: sparse(ids, use_cache=False),
            },
            repeats,
        )
    t["model_time_ratio"] = t["model_dsa_mask_s"] / t["model_dense_sdpa_s"]
    return t


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", default="256,512,1024,2048")
    parser.add_argument("--topk", type=int, default=64)
    parser.add_argument("--index-heads", type=int, default=INDEX_HEADS)
    parser.add_argument("--index-dim", type=int, default=INDEX_DIM)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    lengths = [int(x) for x in args.lengths.split(",") if x]
    numbers = (args.topk, args.repeats, args.threads, args.index_heads, args.index_dim)
    if not lengths or min(lengths) < 1 or min(numbers) < 1:
        parser.error("lengths, --topk, --repeats, --threads, --index-heads and --index-dim must be positive")
    index = (args.index_heads, args.index_dim)
    torch.set_num_threads(args.threads)
    cfg = BootstrapConfig()
    rows = []
    for length in lengths:
        row: dict[str, float] = {"length": length, "topk": args.topk}
        row |= attention_flops(
            length,
            heads=cfg.num_heads,
            head_dim=cfg.hidden_size // cfg.num_heads,
            hidden=cfg.hidden_size,
            topk=args.topk,
            index_heads=args.index_heads,
            index_dim=args.index_dim,
        )
        row |= core_timings(length, topk=args.topk, cfg=cfg, repeats=args.repeats, index=index)
        row |= model_timings(length, topk=args.topk, cfg=cfg, repeats=args.repeats, index=index)
        rows.append(row)
        print(f"dsa bench: T={length} done", file=sys.stderr, flush=True)
    if args.json:
        print(json.dumps({"threads": args.threads, "device": "cpu", "index": list(index), "rows": rows}))
        return 0
    print(f"DSA, top-k {args.topk}, indexer {index[0]}x{index[1]}, {args.threads} thread(s), CPU; times in ms")
    head = "    T  flops sparse/dense  core dense  indexer  core top-k  core ratio  model sdpa  eager  dsa-mask  ratio"
    print(head)
    for r in rows:
        print(
            f"{r['length']:5d}  {r['flops_ratio']:18.3f}  {r['dense_core_s'] * 1e3:10.2f}  {r['indexer_s'] * 1e3:7.2f}"
            f"  {r['sparse_core_s'] * 1e3:10.2f}  {r['core_time_ratio']:10.2f}  {r['model_dense_sdpa_s'] * 1e3:10.2f}"
            f"  {r['model_dense_eager_s'] * 1e3:5.1f}  {r['model_dsa_mask_s'] * 1e3:8.1f}  {r['model_time_ratio']:5.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
