"""What the model cards (``MODEL_CARD.md``) of the shipped systems share: percentages, the title, the classes and
formats lines, the figures section with its cross-validated table, the reproduce and limits sections, and how a
card's lines are joined. Each recipe (``speech_train``, ``probe_train``, ``face_train``, ``av_train``) writes its
own model, data and figures lines between them."""

from __future__ import annotations

import os
import shlex

from typing import Any, Sequence

#: The formats line of a card whose system folder holds nothing but safetensors and JSON.
SAFE_FORMATS = "- weights: safetensors; metadata: JSON (no pickle)"
#: RAVDESS's licence and citation, as cards state it.
RAVDESS_LICENCE = "CC BY-NC-SA 4.0 (Livingstone & Russo 2018)"


def pct(value: float) -> str:
    """A fraction in percent with one decimal, without the sign: ``0.4567`` -> ``"45.7"``."""
    return f"{100 * value:.1f}"


def title(name: str, description: str) -> list[str]:
    """The card's first lines: its name as the heading, then what the model is."""
    return [f"# {name}", "", description, ""]


def classes_line(classes: Sequence[str]) -> str:
    """The bullet naming the model's classes."""
    return f"- classes ({len(classes)}): {', '.join(classes)}"


def cv_figure_lines(cv: dict[str, Any]) -> list[str]:
    """Markdown lines of cross-validated figures (as
    :func:`~avemo.shipping.speech_train.cross_validation_figures` reads them from a report): mean ± std, then one
    table row per fold."""
    lines = [f"- UA {pct(cv['mean']['ua'])} ± {pct(cv['std']['ua'])}%, WA {pct(cv['mean']['wa'])} ± "
             f"{pct(cv['std']['wa'])}%, macro-F1 {pct(cv['mean']['macro_f1'])} ± {pct(cv['std']['macro_f1'])}%", "",
             "| fold | test speakers | UA % | WA % | macro-F1 % |", "|---|---|---|---|---|"]
    lines += [f"| {f['fold']} | {' '.join(f['test_speakers'])} | {pct(f['ua'])} | {pct(f['wa'])} | "
              f"{pct(f['macro_f1'])} |" for f in cv["folds"]]
    return lines


def figures_section(heading: str, lines: Sequence[str], missing: str = "") -> list[str]:
    """The figures section: ``## heading``, then ``lines``, or (none) a line saying so and, with ``missing``, how
    to record them."""
    return [f"## {heading}", *(lines or [f"none recorded ({missing})" if missing else "none recorded"])]


def closing_sections(command: str, limits: Sequence[str], note: str = "") -> list[str]:
    """The card's last sections: the command that reproduces the model (and a ``note`` on it), then one bullet per
    limit (the licences among them)."""
    return ["", "## Reproduce", "```", command, "```", *([note] if note else []), "", "## Limits",
            *(f"- {limit}" for limit in limits)]


def card_text(lines: Sequence[str]) -> str:
    """The card's markdown: its lines, each ending in a newline."""
    return "\n".join(lines) + "\n"


def train_command(system: str, data: str | os.PathLike, out: str | os.PathLike,
                  cv_report: str | os.PathLike | None = None, config: str | os.PathLike | None = None,
                  overrides: Sequence[str] | None = None) -> str:
    """``avemo train <system> --data ... --out ...`` with the options given (``--cv-report``, ``--config``,
    ``--set``), shell-quoted."""
    command = ["avemo", "train", system, "--data", str(data), "--out", str(out)]
    if cv_report:
        command += ["--cv-report", str(cv_report)]
    if config:
        command += ["--config", str(config)]
    if overrides:
        command += ["--set", *overrides]
    return " ".join(shlex.quote(a) for a in command)
