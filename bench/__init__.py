"""Benchmarks of the Lin County skills platform (`python -m bench.<name>`); results go into BENCHMARKS.md."""
