"""QueueClient and AsyncQueueClient: one vocabulary, sync and async; only `await` differs.

`AsyncQueueClient` is written in `_async/client.py`; `QueueClient` is generated from
it into `_sync/client.py` (`nox -s unasync`), so that the two never drift apart. Both
are documented and pickled under this module, their public home.
"""

from __future__ import annotations

from together_queue._async.client import AsyncQueueClient, AsyncRawResponses
from together_queue._sync.client import QueueClient, RawResponses

__all__ = ["AsyncQueueClient", "AsyncRawResponses", "QueueClient", "RawResponses"]

QueueClient.__module__ = AsyncQueueClient.__module__ = __name__
RawResponses.__module__ = AsyncRawResponses.__module__ = __name__
