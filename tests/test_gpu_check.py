"""scripts/gpu_check.sh is valid bash, and its summary reports what was measured and what failed, filling in
nothing (the dry run on the CPU, `GPU_CHECK_DEVICE=cpu bash scripts/gpu_check.sh --tiny`, takes minutes: not here)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("gpu_check_summary", ROOT / "scripts" / "gpu_check_summary.py")
summary_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(summary_module)


def test_the_script_parses():
    subprocess.run(["bash", "-n", str(ROOT / "scripts" / "gpu_check.sh")], check=True)


def test_the_summary_reports_measurements_and_failures(tmp_path):
    steps = [{"step": "env", "rc": 0, "seconds": 2}, {"step": "equivalence", "rc": 1, "seconds": 40},
             {"step": "g2p-transformer", "rc": 124, "seconds": 150}]  # fmt: skip
    (tmp_path / "steps.jsonl").write_text("".join(json.dumps(s) + "\n" for s in steps))
    env = {"device": "cuda", "gpu": "NVIDIA H100", "capability": "9.0", "bf16": True, "torch": "2.13.0", "cuda": "12.8"}
    (tmp_path / "env.json").write_text(json.dumps(env))
    (tmp_path / "equivalence.xml").write_text(
        '<testsuites><testsuite><testcase classname="t" name="a"/><testcase classname="t" name="b">'
        '<failure message="x"/></testcase><testcase classname="t" name="c"><skipped/></testcase></testsuite>'
        "</testsuites>"
    )
    run = tmp_path / "runs" / "g2p-lstm-attention"
    run.mkdir(parents=True)
    records = [{"step": 1000, "split": "train", "loss": 1.0}, {"step": 1000, "split": "val", "per": 0.0931,
               "wer": 0.3712, "elapsed_s": 61.5}]  # fmt: skip
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))

    (tmp_path / "compile.log").write_text(
        "device cuda\n\n| task/model | false ms/step | true ms/step |\n|---|---:|---:|\n"
        "| charlm/transformer | 9.1 | 6.0 |\n"
    )

    summary = summary_module.summarize(tmp_path)
    text = summary_module.markdown(summary)
    assert "GPU check on NVIDIA H100, compute capability 9.0, bf16 True" in text
    assert "| equivalence | 1 | 40 |" in text and "| g2p-transformer | 124 | 150 |" in text
    assert "1 passed, 1 failed, 1 skipped" in text and "- failed: `t::b`" in text
    assert "| lstm-attention | 1000 | 61.5 | 0.0931 | 0.3712 |" in text
    assert "| charlm/transformer | 9.1 | 6.0 |" in text
    assert "| transformer | did not finish | | | |" in text and "One-GPU DDP run: did not finish." in text
    assert summary["recurrent"] is None and summary["attention"] is None  # not run: not filled in
