"""How to install the optional parts: one wording for every message that names one."""

from __future__ import annotations

from typing import Final

__all__ = ["INSTALL_EMULATOR"]

INSTALL_EMULATOR: Final = "pip install 'together-queue[emulator]'"
"""The command that installs what the emulator needs (starlette, uvicorn, cryptography)."""
