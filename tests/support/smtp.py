"""A minimal SMTP server on 127.0.0.1 that records the messages it receives (no auth, no TLS)."""

from __future__ import annotations

import socketserver
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from tests.support.serving import serve_in_thread


@dataclass
class Mailbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    recipients: list[list[str]] = field(default_factory=list)

    def mailto(self, sender: str = "status@example.com") -> str:
        """An Apprise URL that delivers here."""
        return f"mailto://127.0.0.1:{self.port}?from={sender}&user=status&pass=secret"

    def wait_for(self, count: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.messages


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    mailbox = Mailbox(port=0)

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self.reply("220 localhost test SMTP")
            rcpts: list[str] = []
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                command = raw.decode(errors="replace").strip()
                verb = command.split(" ", 1)[0].upper()
                if verb in ("EHLO", "HELO"):
                    self.wfile.write(b"250-localhost\r\n250-AUTH PLAIN LOGIN\r\n250 OK\r\n")
                elif verb == "AUTH":
                    self.reply("235 2.7.0 Authentication successful")
                elif verb == "MAIL":
                    rcpts = []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    rcpts.append(command.split(":", 1)[1].strip(" <>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while True:
                        line = self.rfile.readline()
                        if line in (b".\r\n", b".\n", b""):
                            break
                        lines.append(line[1:] if line.startswith(b"..") else line)
                    parsed = message_from_bytes(b"".join(lines), policy=policy.default)
                    mailbox.recipients.append(rcpts)
                    mailbox.messages.append(parsed)  # type: ignore[arg-type]
                    self.reply("250 OK queued")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    mailbox.port = server.server_address[1]
    serve_in_thread(server)
    try:
        yield mailbox
    finally:
        server.shutdown()
        server.server_close()
