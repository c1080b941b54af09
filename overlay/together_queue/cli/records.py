"""The records of a bulk submit's results file, typed: the header, then one record per event.

The first record is a header, `{"together_queue_results": 1, "input": NAME}`, naming
the input file it belongs to. Every other record is a `Record`:
`{"line": N, "digest": D, "model": ..., "request_id": ..., "status": ..., "outputs"?, "error"?}`,
where `digest` fingerprints input line N's bytes: `--resume` uses both to prove the
file belongs to the input before it trusts (or changes) anything. Keys without a
value are left out. A line's last record is its state.

CLI statuses, besides the service's (`pending`, `running`, `done`, `failed`, `canceled`):
`submitting` (sent, answer not yet recorded), `submitted`, `invalid` (a bad input
line), `error` (the service refused it or waiting on it failed), `unknown` (the
submit may or may not have created a job), `timeout` (waiting on it ran out of time).
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring_ascii as _ascii
from pathlib import Path
from typing import Any, Final, NamedTuple

from together_queue.cli.common import UsageError

FORMAT: Final = 1
"""The version of the results file layout (the header's `together_queue_results`)."""
HEADER_KEY: Final = "together_queue_results"
FINISHED: Final = frozenset({"done", "failed", "canceled"})
"""Service statuses after which a job never changes."""
UNCERTAIN: Final = frozenset({"submitting", "unknown"})
"""CLI statuses of a line that may have been submitted without a recorded request id."""


def header(input_name: str) -> dict[str, Any]:
    """The first record of a results file for the input named `input_name`."""
    return {HEADER_KEY: FORMAT, "input": input_name}


class Record(NamedTuple):
    """What happened to one input line: one record of the results file.

    A named tuple, not a frozen dataclass: two are made for every line sent, and a
    tuple is built in a third of the time (`_replace` makes a changed copy).
    """

    line: int
    status: str
    digest: str | None = None
    model: str | None = None
    request_id: str | None = None
    outputs: Any = None
    error: str | None = None

    @property
    def submitted(self) -> bool:
        """A job exists for this line (its request id is recorded)."""
        return self.request_id is not None

    @property
    def uncertain(self) -> bool:
        """The line may have created a job whose id was never recorded: never resend it."""
        return self.request_id is None and self.status in UNCERTAIN

    @property
    def retry(self) -> bool:
        """Whether `--resume` submits the line again (no job can exist for it)."""
        return not self.submitted and not self.uncertain

    @property
    def finished(self) -> bool:
        """The line's job reached a status that never changes."""
        return self.status in FINISHED

    def _items(self) -> tuple[tuple[str, Any], ...]:
        """The fields after `line`, in the file's key order (a value may be None)."""
        return (
            ("digest", self.digest),
            ("model", self.model),
            ("request_id", self.request_id),
            ("status", self.status),
            ("outputs", self.outputs),
            ("error", self.error),
        )

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data, in the file's key order, keys without a value left out."""
        data: dict[str, Any] = {"line": self.line}
        for key, value in self._items():
            if value is not None:
                data[key] = value
        return data

    def to_line(self) -> str:
        """`json.dumps(self.to_json(), ensure_ascii=True)`, built directly.

        Two records are written for every line sent; assembling the text from the
        fields (strings through the C string encoder) costs a fraction of building the
        dict and running the generic encoder over it.
        """
        line, status, digest, model, request_id, outputs, error = self
        if digest is not None and model is not None and outputs is None and error is None:
            # The shape of every sent line's intent and answer, in one format (the
            # `_items` order): a third of the loop's time.
            rid = "" if request_id is None else ', "request_id": ' + _ascii(request_id)
            return (
                f'{{"line": {line}, "digest": {_ascii(digest)}, "model": {_ascii(model)}'
                f'{rid}, "status": {_ascii(status)}}}'
            )
        text = '{"line": ' + str(line)
        for key, value in self._items():
            if isinstance(value, str):
                text += f', "{key}": ' + _ascii(value)
            elif value is not None:
                text += f', "{key}": ' + json.dumps(value, ensure_ascii=True)
        return text + "}"

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path) -> Record:
        """A record read from the results file at `path`.

        `UsageError` if its request id or model is not a clean string: a hand-edited or
        foreign file is not ours to guess at.
        """
        request_id = data.get("request_id")
        model = data.get("model")
        for key, value in (("request_id", request_id), ("model", model)):
            if value is not None and not (
                isinstance(value, str) and value.strip() and value == value.strip()
            ):
                raise UsageError(
                    f"--output: {str(path)!r}: the record of input line {data['line']} has an "
                    f"invalid {key} ({value!r}); fix or remove that record"
                )
        digest = data.get("digest")
        error = data.get("error")
        return cls(
            line=data["line"],
            status=str(data.get("status", "")),
            digest=digest if isinstance(digest, str) else None,
            model=model,
            request_id=request_id,
            outputs=data.get("outputs"),
            error=None if error is None else str(error),
        )
