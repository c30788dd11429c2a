"""Images checked with Pillow: the real `ImageCheck`."""

from gemini_clone.adapters.imaging.pillow import PillowImageCheck

__all__ = ["PillowImageCheck"]
