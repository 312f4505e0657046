"""The ``avemo train`` command line a shipped model's card gives to reproduce it."""

from __future__ import annotations

import os
import shlex
from typing import Sequence


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
