"""A plain SMTP server in a process of its own, for the GUI stall measurements.

The usual test servers run on a thread of the test process, so their Python work and
garbage-collector passes take the interpreter lock from the GUI thread being measured;
the app never has a server inside it. This one is aiosmtpd on 127.0.0.1 (a free port),
which accepts and counts messages and keeps nothing. It prints its port, then answers
each line "count" on stdin with the number accepted so far; it exits when stdin closes.

    python counting_server.py
"""

from __future__ import annotations

import asyncio
import logging
import sys

from aiosmtpd.smtp import SMTP

logging.getLogger("mail.log").setLevel(logging.ERROR)


class Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.count += 1
        return "250 2.0.0 OK"


async def main() -> None:
    loop = asyncio.get_running_loop()
    counter = Counter()
    server = await loop.create_server(lambda: SMTP(counter, hostname="localhost"), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        if line.strip() == b"count":
            print(counter.count, flush=True)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
