"""voicedial's benchmarks: `python benchmarks/run.py [NAME ...]` (see README.md)."""
