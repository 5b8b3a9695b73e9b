"""The summary of scripts/gpu_check.sh: OUT/summary.json (everything measured) and OUT/summary.md (the tables for
docs/gpu.md). A step that failed or did not run shows as such; nothing is filled in.

    python scripts/gpu_check_summary.py artifacts/gpu-check
"""

from __future__ import annotations

import json
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path


def read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def equivalence(out: Path) -> dict | None:
    """Counts of the equivalence tests run on the device, and the names of those that failed."""
    path = out / "equivalence.xml"
    if not path.is_file():
        return None
    cases = ElementTree.parse(path).getroot().iter("testcase")
    counts, failed = {"passed": 0, "failed": 0, "skipped": 0}, []
    for case in cases:
        if case.find("failure") is not None or case.find("error") is not None:
            counts["failed"] += 1
            failed.append(f"{case.get('classname')}::{case.get('name')}")
        elif case.find("skipped") is not None:
            counts["skipped"] += 1
        else:
            counts["passed"] += 1
    return {**counts, "failures": failed}


def training(run: Path) -> dict | None:
    """Wall time and the last validation record of a run folder."""
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        return None
    records = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    val = [r for r in records if r.get("split") == "val"]
    return {"steps": records[-1]["step"], **({"val": val[-1]} if val else {})}


def table_rows(log: Path) -> list[str] | None:
    """The Markdown table a step printed (benchmarks/compile.py), or None if it printed none."""
    rows = [line for line in log.read_text().splitlines() if line.startswith("|")] if log.is_file() else []
    return rows if len(rows) > 2 else None  # a header alone measured nothing


def summarize(out: Path) -> dict:
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines() if line.strip()]
    experiment = read_json(out / "runs" / "experiments" / "parallel" / "results.json")
    return {
        "env": read_json(out / "env.json"),
        "steps": steps,
        "equivalence": equivalence(out),
        "recurrent": read_json(out / "recurrent.json"),
        "attention": read_json(out / "attention.json"),
        "compile": table_rows(out / "compile.log"),
        "g2p": {m: training(out / "runs" / f"g2p-{m}") for m in ("gru-seq2seq", "lstm-attention", "transformer")},
        "parallel": experiment and {"answer": experiment.get("answer"), **experiment.get("measurements", {})},
        "ddp": training(out / "runs" / "ddp"),
    }


def markdown(summary: dict) -> str:
    env = summary["env"] or {}
    where = env.get("gpu", f"device {env.get('device', '?')} (no GPU)")
    lines = [
        f"GPU check on {where}, compute capability {env.get('capability', '–')}, bf16 {env.get('bf16', '–')}; "
        f"torch {env.get('torch', '?')}, CUDA {env.get('cuda', '–')}",
        "",
        "| step | exit code | seconds |",
        "|---|---:|---:|",
        *(f"| {s['step']} | {s['rc']} | {s['seconds']} |" for s in summary["steps"]),
    ]
    if summary["equivalence"]:
        e = summary["equivalence"]
        lines += ["", f"Equivalence with torch.nn on the device: {e['passed']} passed, {e['failed']} failed, "
                  f"{e['skipped']} skipped."]  # fmt: skip
        lines += [f"- failed: `{name}`" for name in e["failures"][:20]]
    if summary["recurrent"]:
        lines += ["", "| B, T, I, H | cell | torch.nn ms | fast / torch | reference / torch | native / torch |",
                  "|---|---|---:|---:|---:|---:|"]  # fmt: skip
        for r in summary["recurrent"]["rows"]:
            lines.append(
                f"| {r['B']}, {r['T']}, {r['I']}, {r['H']} | {r['cell']} | {r['torch_s'] * 1e3:.2f} | "
                f"{r['fast_ratio']:.2f} | {r['reference_ratio']:.2f} | {r.get('native_ratio', float('nan')):.2f} |"
            )
    if summary["attention"]:
        timing = summary["attention"]["timing"]
        lines += ["", "| attention measurement | PyTorch ms | nnzoo ms | nnzoo / PyTorch |", "|---|---:|---:|---:|"]
        for part in ("mha", "encoder_layer"):
            t = timing[part]
            lines.append(f"| {part} | {t['torch'] * 1e3:.2f} | {t['ours'] * 1e3:.2f} | {t['ours'] / t['torch']:.2f} |")
    if summary["compile"]:
        lines += ["", *summary["compile"]]
    lines += ["", "| G2P model | steps | seconds | val PER | val WER |", "|---|---:|---:|---:|---:|"]
    for model, run in summary["g2p"].items():
        if run and "val" in run:
            val = run["val"]
            lines.append(
                f"| {model} | {run['steps']} | {val.get('elapsed_s', '–')} | {val['per']:.4f} | {val['wer']:.4f} |"
            )
        else:
            lines.append(f"| {model} | did not finish | | | |")
    if summary["parallel"]:
        lines += ["", f"Experiment parallel: {summary['parallel']['answer']}"]
    ddp = summary["ddp"]
    lines += ["", f"One-GPU DDP run: {'finished ' + str(ddp['steps']) + ' steps' if ddp else 'did not finish'}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "artifacts/gpu-check")
    summary = summarize(out)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    (out / "summary.md").write_text(markdown(summary))
    print((out / "summary.md").read_text())


if __name__ == "__main__":
    main()
