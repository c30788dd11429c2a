"""Entities, value objects and rules of the business, in the standard library only."""
