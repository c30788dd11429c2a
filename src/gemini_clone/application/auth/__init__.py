"""Sign-up, one-time codes, passwords and tokens."""
