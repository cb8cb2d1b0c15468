"""Masking of secrets and personal data before anything leaves the stream (pure, no I/O)."""
