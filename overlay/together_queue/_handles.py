"""What `Job` and `AsyncJob` share: identity, equality, pickling, serialisation."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from together_queue import _validate
from together_queue.errors import ConfigurationError

C = TypeVar("C")
# Each concrete handle class by name, for unpickling (see `_restore`).
_KINDS: dict[str, type[Handle[Any]]] = {}


class Handle(Generic[C]):
    """A job's identity, (model, request_id), and the client it talks through."""

    __slots__ = ("_client", "model", "request_id")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _KINDS[cls.__name__] = cls

    def __init__(self, request_id: str, *, model: str, client: C | None = None) -> None:
        self.request_id = _validate.request_id(request_id)
        self.model = _validate.model_name(model)
        self._client = client

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model!r}, request_id={self.request_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Handle):
            return NotImplemented
        return (self.model, self.request_id) == (other.model, other.request_id)

    def __hash__(self) -> int:
        return hash((self.model, self.request_id))

    def __reduce__(self) -> tuple[Any, tuple[str, str, str]]:
        # Only the identity travels: a client holds sockets and the API key.
        return (_restore, (type(self).__name__, self.request_id, self.model))

    def to_dict(self) -> dict[str, str]:
        """`{"model": ..., "request_id": ...}`: enough to resume the job elsewhere."""
        return {"model": self.model, "request_id": self.request_id}

    def _bound(self) -> C:
        if self._client is None:
            raise ConfigurationError(
                f"{self!r} has no client (it was unpickled or built from a dict); "
                "attach one with job.bind(client) or client.job(request_id, model=...)"
            )
        return self._client


def _restore(kind: str, request_id: str, model: str) -> Handle[Any]:
    """The handle a pickle holds: `kind` names its class (a `Job` when unknown)."""
    return _KINDS.get(kind, _KINDS["Job"])(request_id, model=model)
