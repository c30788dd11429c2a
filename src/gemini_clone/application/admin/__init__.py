"""Administration: what an operator asks of the service (`gemini-clone users|usage ...`)."""
