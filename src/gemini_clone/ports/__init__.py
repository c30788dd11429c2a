"""The ports: what the core needs from the world, as Protocols named by role."""
