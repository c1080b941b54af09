"""The package version: the one place it is defined (read by hatchling, the CLI and users)."""

__version__ = "0.2.0"
