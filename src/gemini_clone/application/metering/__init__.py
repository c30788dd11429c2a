"""Metering: what the model calls cost, as the usage ledger holds it."""
