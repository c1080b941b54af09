"""The emulator's dashboard: a page at `/` and the admin JSON it reads under `/_emulator/`.

The page is plain HTML, CSS and ES modules shipped in `static/` (no build step, no
CDN). It polls the admin routes with backoff and sends the API key, when the emulator
has keys, as a bearer header.
"""

from __future__ import annotations

from together_queue.emulator.dashboard.routes import HANDLERS

__all__ = ["HANDLERS"]
