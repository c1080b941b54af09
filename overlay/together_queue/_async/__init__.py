"""The async half of each sync/async pair: the source `tools/unasync.py` writes `_sync/` from."""
