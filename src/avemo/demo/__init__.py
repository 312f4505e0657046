"""Demo helpers."""
