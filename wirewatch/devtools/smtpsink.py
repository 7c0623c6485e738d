"""An SMTP server on loopback that keeps what it receives (aiosmtpd; a development dependency).

In: a port (or a free one). Out: every accepted message, parsed, in :attr:`SmtpSink.messages`. It can
be stopped and started again on the same port (an SMTP outage), told to answer 451 for a while, or
to take a message and cut the connection before its reply.
Used by the tests and the benchmarks: a real SMTP conversation over TCP, never a mock of smtplib.
"""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any


class SmtpSink:
    def __init__(self, port: int = 0) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = False
        self.drop_before_reply = 0  # this many messages are taken, then the connection is cut before the reply
        self._lock = threading.Lock()
        if not port:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
        self.port = port
        self._controller: Any = None

    def _handler(self) -> object:
        sink = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                if sink.refuse:
                    return "451 try again later"
                with sink._lock:
                    sink.messages.append(message_from_bytes(envelope.content, policy=policy.default))
                    drop = sink.drop_before_reply > 0
                    sink.drop_before_reply -= drop
                if drop:  # taken, and the client never hears so: it cannot know whether it was
                    server.transport.close()
                return "250 OK"

        return Handler()

    def start(self) -> SmtpSink:
        from aiosmtpd.controller import Controller

        self._controller = Controller(self._handler(), hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def received(self) -> list[EmailMessage]:
        with self._lock:
            return list(self.messages)
