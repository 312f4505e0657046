"""Explanations of predictions: which modality, which time spans of the speech, which pixels of a face and which
feature groups of a linear model made the result what it is.

>>> from avemo.inference.engine import InferenceEngine
>>> from avemo.explain import explain_file
>>> explanation = explain_file(InferenceEngine(), "clip.mp4", "out/")   # out/explanation.json + PNGs
>>> explanation["contributions"], explanation["pictures"]

Layer: between :mod:`avemo.inference` and the front ends (cli, demo, serve), which call :func:`explain_file`.
"""

from avemo.explain.explanation import EXPLANATION_FILE, explain_file
from avemo.explain.options import ExplainOptions

__all__ = ["EXPLANATION_FILE", "ExplainOptions", "explain_file"]
