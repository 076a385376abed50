"""Flash's benchmark suite (issue 4): `python -m benchmarks` from the repository root.

See benchmarks/README.md for the workloads, the contenders and the latest results.
"""
