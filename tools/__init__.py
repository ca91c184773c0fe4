"""Tooling for tests and benchmarks (the app in a subprocess, a headless browser); not part of aelab."""
