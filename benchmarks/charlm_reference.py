"""nnzoo's character Transformer against a nanoGPT-style training, scored by one evaluator.

    python benchmarks/charlm_reference.py train --steps 300            # the reference recipe, on nnzoo's data
    python benchmarks/charlm_reference.py score runs/charlm/transformer  # any nnzoo charlm runs, same evaluator

The reference is the standard recipe of small GPTs (nanoGPT's ``train.py`` and its character config), written
here from its description, not copied: a pre-norm decoder with learned positions, bias-free linear and LayerNorm
layers, GELU, the output layer tied to the embedding, weights drawn from N(0, 0.02) (the residual projections'
scaled by 1/sqrt(2 * layers)); AdamW with betas (0.9, 0.99), weight decay 0.1 on matrices only, a linear warm-up
of 100 steps, then cosine decay to a tenth of the rate at the last step; the gradient norm clipped at 1; each batch
64 windows at random offsets of the training text. Data: nnzoo's ``charlm`` splits of Shakespeare, encoded by the
task's vocabulary, so both see exactly the same characters.

The evaluator (both numbers come from it): the mean negative log-likelihood, in nats per character, of the
validation text cut into non-overlapping blocks of ``context`` characters, each block predicted from its own
prefix only (the block's first character from nothing before it, its last from the ``context - 1`` before it) —
what nanoGPT's ``estimate_loss`` measures on random blocks, here over all of them. nnzoo's own evaluation reads
the text as streams with at least half a context before every character, so its numbers are lower than these.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch
from torch import Tensor, nn
from torch.nn import functional as F

import nnzoo
from nnzoo.tasks.charlm import CharLM

SHAPE = {"d_model": 192, "nhead": 4, "num_layers": 4, "dropout": 0.1, "context": 128, "batch_size": 64}


@torch.no_grad()
def block_nll(model: nn.Module, ids: Tensor, context: int, batch: int = 64) -> float:
    """Nats per character of ``ids`` in blocks of ``context`` predictions, each block from its own prefix."""
    model.eval()
    blocks = (len(ids) - 1) // context
    inputs = ids[: blocks * context].view(blocks, context)
    targets = ids[1 : blocks * context + 1].view(blocks, context)
    total = 0.0
    for start in range(0, blocks, batch):
        logits, _ = model(inputs[start : start + batch])
        total += float(
            F.cross_entropy(logits.flatten(0, 1).float(), targets[start : start + batch].flatten(), reduction="sum")
        )
    return total / (blocks * context)


class _Block(nn.Module):
    def __init__(self, d: int, heads: int, dropout: float):
        super().__init__()
        self.heads, self.dropout = heads, dropout
        self.norm1, self.norm2 = nn.LayerNorm(d, bias=False), nn.LayerNorm(d, bias=False)
        self.qkv, self.proj = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.up, self.down = nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        q, k, v = (
            z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in self.qkv(self.norm1(x)).split(d, 2)
        )
        a = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True)
        x = x + self.drop(self.proj(a.transpose(1, 2).reshape(b, t, d)))
        return x + self.drop(self.down(F.gelu(self.up(self.norm2(x)))))


class ReferenceGPT(nn.Module):
    """The reference decoder: tokens (B, T) -> (logits (B, T, V), None), the call signature of nnzoo's models."""

    def __init__(self, vocab_size: int, context: int, d: int, heads: int, layers: int, dropout: float):
        super().__init__()
        self.embedding, self.positions = nn.Embedding(vocab_size, d), nn.Embedding(context, d)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(_Block(d, heads, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(d, bias=False)
        self.head = nn.Linear(d, vocab_size, bias=False)
        self.head.weight = self.embedding.weight  # tied
        for name, p in self.named_parameters():
            if p.dim() == 2:
                scaled = name.endswith(("proj.weight", "down.weight"))
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * layers) if scaled else 0.02)

    def forward(self, tokens: Tensor, state: None = None) -> tuple[Tensor, None]:
        x = self.drop(self.embedding(tokens) + self.positions.weight[: tokens.shape[1]])
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)), None


def train_reference(steps: int, seed: int, lr: float = 1e-3, warmup: int = 100) -> dict:
    start = nnzoo.build("charlm", model="transformer", overrides=[f"data.chunk_length={SHAPE['context']}"])
    task: CharLM = start.task
    texts = task.split_texts()
    ids = {name: torch.tensor(task.vocab.encode(text)) for name, text in texts.items()}
    torch.manual_seed(seed)
    context, batch = SHAPE["context"], SHAPE["batch_size"]
    model = ReferenceGPT(
        len(task.vocab), context, SHAPE["d_model"], SHAPE["nhead"], SHAPE["num_layers"], SHAPE["dropout"]
    )
    matrices = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": matrices, "weight_decay": 0.1}, {"params": others, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.99)
    )
    generator = torch.Generator().manual_seed(seed)
    began = time.perf_counter()
    for step in range(steps):
        if step < warmup:
            rate = lr * (step + 1) / (warmup + 1)
        else:
            progress = (step - warmup) / max(1, steps - warmup)
            rate = lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress)))
        for group in optimizer.param_groups:
            group["lr"] = rate
        offsets = torch.randint(len(ids["train"]) - context, (batch,), generator=generator)
        x = torch.stack([ids["train"][o : o + context] for o in offsets.tolist()])
        y = torch.stack([ids["train"][o + 1 : o + 1 + context] for o in offsets.tolist()])
        model.train()
        logits, _ = model(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if (step + 1) % 50 == 0:
            print(f"step {step + 1}: training loss {loss.item():.3f}", flush=True)
    minutes = (time.perf_counter() - began) / 60
    return {
        "model": "nanoGPT-style reference",
        "steps": steps,
        "seed": seed,
        "lr": lr,
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_minutes": round(minutes, 1),
        "val_block_nll": round(block_nll(model, ids["val"], context), 4),
    }


def score_run(path: str, checkpoint: str) -> dict:
    run = nnzoo.open(path, checkpoint=checkpoint, device="cpu")
    ids = run.data["val"]  # checked against the vocabulary the run was trained with
    return {
        "model": f"nnzoo {path}",
        "checkpoint": checkpoint,
        "run_steps": run.state["step"],
        "parameters": sum(p.numel() for p in run.model.parameters()),
        "val_block_nll": round(block_nll(run.model, ids, run.model.context), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("train", help="train the reference recipe and score it")
    train.add_argument("--steps", type=int, default=300)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (nanoGPT's character config: 1e-3)")
    score = commands.add_parser("score", help="score nnzoo charlm runs")
    score.add_argument("runs", nargs="+")
    score.add_argument("--checkpoint", choices=("best", "last"), default="last")
    parser.add_argument("--out", type=Path, help="also append the results as JSON lines to this file")
    args = parser.parse_args()
    results = (
        [train_reference(args.steps, args.seed, args.lr)]
        if args.command == "train"
        else [score_run(path, args.checkpoint) for path in args.runs]
    )
    for result in results:
        print(json.dumps(result))
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            with args.out.open("a") as out:
                out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
