"""Posting messages and producing the model's replies."""
