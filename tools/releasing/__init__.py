"""The release pipeline behind `tools/release.py`: build, check, smoke-test, publish, API diff.

One module per job: `project` (names, paths, version), `proc` (running commands),
`changelog`, `artifacts` (build and contents checks), `smoke` (fresh venvs),
`index` (what a package index already holds), `publish`, `apidiff`.
"""
