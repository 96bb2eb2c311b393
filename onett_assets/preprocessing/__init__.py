"""Preprocessing rules: pure functions over polars frames, so each can be tested and tuned on its own."""
