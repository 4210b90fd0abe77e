"""Test servers (`socketserver`) served in a daemon thread."""

from __future__ import annotations

import socketserver
import threading

# How often the serve loop looks for `shutdown()`: the standard 0.5 s made each test server's
# stop wait a quarter of a second on average.
POLL_SECONDS = 0.05


def serve_in_thread(server: socketserver.BaseServer) -> threading.Thread:
    """Start serving `server` in a daemon thread (stop it with `server.shutdown()`)."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": POLL_SECONDS}, daemon=True
    )
    thread.start()
    return thread
