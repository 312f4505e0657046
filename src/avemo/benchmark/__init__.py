"""Benchmarks: every system of a suite on every fold of a protocol, written to ``reports/<suite>/``."""
