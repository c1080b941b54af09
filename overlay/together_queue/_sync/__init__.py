"""The sync half of each sync/async pair, generated from `_async/` by `tools/unasync.py`.

Every module here but `_io.py` is generated: edit the async source and run
`nox -s unasync`; `nox` fails when a generated file differs from a fresh generation.
"""
