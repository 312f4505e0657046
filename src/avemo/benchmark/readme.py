"""Regenerate the README's result blocks from the committed reports: ``python -m avemo.benchmark.readme README.md``.

A block is the text between ``<!-- report:NAME -->`` and ``<!-- /report:NAME -->``; NAME is a folder under
``reports/`` (its ``results.md`` is inserted) or ``face-speed`` / ``extraction`` / ``serve`` (a
sentence from their ``summary.json``).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

BLOCK = re.compile(r"(<!-- report:(?P<name>[\w-]+) -->\n)(?P<body>.*?)(<!-- /report:(?P=name) -->)", re.S)


def _face_speed_comparison(summary: dict) -> str:
    """The face-speed report's same-machine comparison of face models, as one sentence ("" without one)."""
    comparison = summary.get("comparison")
    if not comparison:
        return ""
    each = "; ".join(f"`{name}` ({m['network']}) {m['ms_per_frame_median']} ms per frame (rounds "
                     f"{min(m['ms_per_frame_rounds'])}-{max(m['ms_per_frame_rounds'])}), classifier "
                     f"{m['classify_ms_median']} ms" for name, m in comparison["models"].items())
    return (f"\nThe same frames timed in turn, {comparison['rounds']} rounds, median of the rounds' medians: "
            f"{each}.\n")


def render(name: str, reports: Path) -> str:
    """The markdown of one block."""
    folder = reports / name
    if name == "face-speed":
        s = json.loads((folder / "summary.json").read_text())
        stages = ", ".join(f"{k} {v} ms" for k, v in s["stage_ms_median"].items())
        tta = "no test-time augmentation" if s["tta"] in ("none", False) else f"`{s['tta']}` test-time augmentation"
        engine = {"onnx": "ONNX Runtime", "torch": "torch"}.get(s.get("engine", "torch"), s.get("engine"))
        return (f"Face pipeline (MediaPipe detection + 478 landmarks, alignment, `{s['model']}` on {engine} with "
                f"{tta}) on {s['frame_size'][0]}x{s['frame_size'][1]} video frames "
                f"({s['clip']}), pinned to one CPU core: **{s['fps']} frames per second** "
                f"({s['ms_per_frame_median']} ms per frame median: {stages}; {s['faces_per_frame']} faces per "
                f"frame). From `reports/face-speed/summary.json`.\n" + _face_speed_comparison(s))
    if name == "extraction-multicorpus":
        parts = [json.loads(p.read_text()) for p in sorted(folder.glob("*/summary.json"))]
        total = sum(p["total_seconds"] for p in parts)
        files = sum(p["n_files"] for p in parts)
        each = ", ".join(f"{p['corpus']} {p['n_files']} clips {p['total_seconds']} s" for p in parts)
        return (f"First extraction of `whisper_stats` (Whisper base, every layer) for {len(parts)} corpora, {files} "
                f"clips, into an empty cache with {parts[0]['jobs']} worker processes on this "
                f"{parts[0]['machine']['cpu_count']}-core machine: **{total / 60:.1f} minutes** ({each}). From "
                f"`reports/extraction-multicorpus/*/summary.json`.\n")
    if name == "extraction":
        s = json.loads((folder / "summary.json").read_text())
        parts = ", ".join(f"{k} {v} s" for k, v in s["seconds"].items())
        return (f"First extraction of every feature the speech benchmarks use, all {s['n_files']} clips, into an "
                f"empty cache with {s['jobs']} worker processes on this {s['machine']['cpu_count']}-core machine: "
                f"**{s['total_seconds'] / 60:.1f} minutes** ({parts}). From `reports/extraction/summary.json`.\n")
    if name == "serve":
        from avemo.benchmark.serve import results_text

        return results_text(json.loads((folder / "summary.json").read_text()))
    text = (folder / "results.md").read_text()
    summary = json.loads((folder / "summary.json").read_text())
    timing = summary.get("timing")
    if name == "cross-corpus":  # its results.md states its own run time
        return text + f"\nFrom `reports/{name}/summary.json`.\n"
    if timing and "jobs" in timing:
        text += (f"\nRun time on this {timing.get('cpu_count')}-core machine with {timing.get('jobs')} workers: "
                 f"feature extraction {timing['extract_seconds']} s (from the cache), training + testing every system "
                 f"on every fold {timing['train_test_seconds']:.0f} s. From `reports/{name}/summary.json`.\n")
    return text


def update(readme: Path, reports: Path = Path("reports")) -> None:
    """Rewrite every block of ``readme`` in place."""
    text = readme.read_text()
    text = BLOCK.sub(lambda m: m.group(1) + render(m.group("name"), reports) + m.group(4), text)
    readme.write_text(text)


if __name__ == "__main__":
    update(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
