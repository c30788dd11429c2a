"""A user's chatrooms."""
