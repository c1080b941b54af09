"""A client library for accessing Together Queue API"""

# Project template (templates/ in together-queue): the client classes load on first
# use (PEP 562), so importing a model or an endpoint module never pays for them.
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)


# Hidden from type checkers: a visible module `__getattr__` would make them accept
# any name, typos included; they read the TYPE_CHECKING imports above instead.
if not TYPE_CHECKING:

    def __getattr__(name: str) -> Any:
        if name not in __all__:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(".client", __name__), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
