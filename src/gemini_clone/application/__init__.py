"""Use cases: one class per action, each with one public `execute`."""
