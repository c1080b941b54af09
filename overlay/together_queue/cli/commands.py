"""The one-job commands: submit (one payload), status, cancel, wait, metrics."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from typing import TYPE_CHECKING

from together_queue.cli.argv import command_line
from together_queue.cli.common import (
    EXIT_JOB,
    EXIT_OK,
    EXIT_TIMEOUT,
    UsageError,
    make_client,
    read_json_object,
)
from together_queue.cli.output import (
    LiveLine,
    Style,
    cancel_dict,
    color_enabled,
    emit_json,
    metrics_dict,
    printable,
    progress_text,
    render_metrics,
    render_status,
)

if TYPE_CHECKING:
    from together_queue._models import JobStatus
    from together_queue.client import QueueClient
    from together_queue.jobs import Job


def cmd_submit(args: argparse.Namespace) -> int:
    """`submit --payload ...`: queue one job; print its id, or its final status with --wait."""
    if args.file is not None:
        from together_queue.cli.bulk import run_bulk

        return run_bulk(args)
    for option in ("output", "resume"):
        if getattr(args, option):
            raise UsageError(f"--{option} only applies to a bulk submit (--file)")
    if args.model is None:
        raise UsageError("--model is required with --payload")
    payload = read_json_object(args.payload, "--payload")
    info = None if args.info is None else read_json_object(args.info, "--info")
    with make_client(args) as client:
        job = client.submit(args.model, payload, priority=args.priority, info=info)
        if not args.wait:
            if args.json:
                emit_json(job.to_dict())
            else:
                print(printable(job.request_id), flush=True)
            return EXIT_OK
        if not args.json:
            print(f"submitted {printable(job.request_id)}", file=sys.stderr, flush=True)
        return _wait_and_report(client, job, args)


def cmd_status(args: argparse.Namespace) -> int:
    """`status`: print a job's current status (exit 0 whatever the status is)."""
    with make_client(args) as client:
        status = client.status(args.request_id, model=args.model)
    _print_status(status, args)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    """`cancel`: cancel a pending job; exit 1 when it was already running or finished."""
    with make_client(args) as client:
        result = client.cancel(args.request_id, model=args.model)
    if args.json:
        emit_json(cancel_dict(result))
    elif result.canceled:
        print(f"canceled {printable(result.request_id)}")
    else:
        print(f"not canceled: job {printable(result.request_id)} is {printable(result.status)}")
    return EXIT_OK if result.canceled else EXIT_JOB


def cmd_wait(args: argparse.Namespace) -> int:
    """`wait`: poll a job until it finishes; exit 1 when it failed or was canceled.

    Exit 4 (`EXIT_TIMEOUT`) when `--timeout` ran out first: the job goes on.
    """
    with make_client(args) as client:
        return _wait_and_report(client, client.job(args.request_id, model=args.model), args)


def cmd_metrics(args: argparse.Namespace) -> int:
    """`metrics`: queue depth once, or every `--interval` seconds with `--watch`."""
    if not args.watch and (args.interval is not None or args.count is not None):
        raise UsageError("--interval and --count only apply with --watch")
    interval = 2.0 if args.interval is None else args.interval
    with make_client(args) as client:
        if not args.watch:
            metrics = client.metrics(args.model)
            if args.json:
                emit_json(metrics_dict(metrics))
            else:
                print(render_metrics(metrics))
            return EXIT_OK
        return _watch_metrics(client, args, interval)


def _watch_metrics(client: QueueClient, args: argparse.Namespace, interval: float) -> int:
    # On a terminal the line redraws in place; in a pipe each sample is its own line.
    live = LiveLine(sys.stdout, period=0.0)
    taken = 0
    try:
        while args.count is None or taken < args.count:
            if taken:
                time.sleep(interval)
            metrics = client.metrics(args.model)
            taken += 1
            now = dt.datetime.now(dt.UTC)
            if args.json:
                emit_json({"time": now.isoformat(), **metrics_dict(metrics)})
            else:
                line = f"{now.astimezone():%H:%M:%S}  {render_metrics(metrics)}"
                if live.tty:
                    live.update(line, force=True)
                else:
                    print(line, flush=True)
    finally:
        if not args.json:
            live.close()
    return EXIT_OK


def _wait_and_report(client: QueueClient, job: Job, args: argparse.Namespace) -> int:
    live = LiveLine(sys.stderr, period=0.0)
    style = Style(color_enabled(sys.stderr))

    def on_update(status: JobStatus) -> None:
        if not args.json:
            progress = progress_text(status)
            text = f"{printable(status.request_id)}  {style.status(printable(status.status))}"
            live.update(f"{text}  {progress}" if progress else text, force=True)

    from together_queue.errors import WaitTimeout

    try:
        final = client.wait(job, timeout=args.timeout, on_update=on_update, raise_on_failure=False)
    except WaitTimeout as exc:
        live.close()
        print(f"error: {exc}; the job goes on. {_wait_again(job, args)}", file=sys.stderr)
        return EXIT_TIMEOUT
    except KeyboardInterrupt:
        live.close()
        print(f"stopped waiting; the job goes on. {_wait_again(job, args)}", file=sys.stderr)
        raise
    finally:
        live.close()
    _print_status(final, args)
    return EXIT_OK if final.succeeded else EXIT_JOB


def _wait_again(job: Job, args: argparse.Namespace) -> str:
    again = command_line(
        args,
        "wait",
        overrides={"request_id": job.request_id, "model": job.model},
        leave_out=("timeout",),
    )
    return f"Wait again with: {printable(again)}"


def _print_status(status: JobStatus, args: argparse.Namespace) -> None:
    if args.json:
        emit_json(status.to_dict())
    else:
        print(render_status(status, Style(color_enabled(sys.stdout))), flush=True)
