"""Redaction lives in the output boundary (hafab.engine.boundary); these names stay for their callers."""

from hafab.engine.boundary import MASK, redact, register  # noqa: F401  (re-exported)
