"""Benchmarks of the emulator: `python -m benchmarks.run` (see its `--help`)."""
