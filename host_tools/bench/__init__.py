"""Benchmarks (`make bench`): speed and memory goals are shown here, never asserted in tests."""
