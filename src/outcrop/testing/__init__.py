"""Tiny random-weight models of real architectures, built offline: the `test` profile's weights."""
