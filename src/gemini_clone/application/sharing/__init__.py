"""Shared links: share a room's path, read it publicly, list and revoke links, continue one."""
