"""Runs the stream worker: `auditledger stream run` (or `python -m stream.worker`)."""

from __future__ import annotations

import sys


def run_worker(loglevel: str = "warn") -> int:
    import faust

    from stream import services  # noqa: F401  (registers the services on the app)
    from stream.app import app

    worker = faust.Worker(app, loglevel=loglevel, quiet=True)
    worker.execute_from_commandline()
    return 0


if __name__ == "__main__":
    sys.exit(run_worker(*(sys.argv[1:2])))
