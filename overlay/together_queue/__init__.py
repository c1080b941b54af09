"""together_queue: a safe, typed client for the Together Queue API."""

from together_queue._version import __version__

__all__ = ["__version__"]
