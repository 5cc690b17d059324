"""A local SMTP "discard" server for the benchmarks (run as its own process).

aiosmtpd on 127.0.0.1, a free port, STARTTLS required, AUTH PLAIN/LOGIN only
inside TLS, PIPELINING offered, messages up to 64 MiB; every accepted message is dropped at once
(nothing is kept in memory). Next to it a tiny DNS server on 127.0.0.1 (UDP) that
answers at once, so the CLI's recipient-domain checks see a working network
without any traffic leaving the machine: every domain has "MX 10 mail.<domain>",
every name the address 127.0.0.1. Prints "SMTP_PORT DNS_PORT" on stdout, then
serves until SIGTERM or until its stdin closes.

    python discard_server.py SERVER_PEM USER PASSWORD
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import ssl
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

logging.getLogger("mail.log").setLevel(logging.ERROR)


class Dns(asyncio.DatagramProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        import dns.message
        import dns.rdatatype
        import dns.rrset

        try:
            query = dns.message.from_wire(data)
        except Exception:
            return
        reply = dns.message.make_response(query)
        for question in query.question:
            name = question.name
            if question.rdtype == dns.rdatatype.MX:
                rdata = f"10 mail.{name}"
            elif question.rdtype == dns.rdatatype.A:
                rdata = "127.0.0.1"
            else:
                continue
            rdtype = dns.rdatatype.to_text(question.rdtype)
            reply.answer.append(dns.rrset.from_text(name, 300, "IN", rdtype, rdata))
        self.transport.sendto(reply.to_wire(), addr)


class Discard:
    async def handle_EHLO(  # type: ignore[no-untyped-def]
        self, server, session, envelope, hostname: str, responses: list[str]
    ) -> list[str]:
        """Offer PIPELINING (RFC 2920), as providers' submission servers do (Gmail,
        Outlook, Postfix and Exim by default). aiosmtpd reads commands one line at a time
        from its stream, so a pipelined group is answered in order; it just does not say
        so. The raw smtplib baseline never pipelines, offered or not."""
        session.host_name = hostname  # an EHLO hook must do this itself (aiosmtpd docs)
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 2.0.0 OK: discarded"


def main() -> None:
    server_pem, user, password = sys.argv[1:4]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(server_pem)

    def authenticator(server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    def factory() -> SMTP:
        return SMTP(
            Discard(),
            hostname="localhost",  # no getfqdn() per connection
            tls_context=context,
            require_starttls=True,
            authenticator=authenticator,
            auth_require_tls=True,
            data_size_limit=64 * 1024 * 1024,
        )

    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(factory, sock=sock))
    dns_transport, _ = loop.run_until_complete(
        loop.create_datagram_endpoint(Dns, local_addr=("127.0.0.1", 0))
    )
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_reader(
        sys.stdin.fileno(), lambda: stop.set() if not sys.stdin.buffer.read1(1) else None
    )
    print(sock.getsockname()[1], dns_transport.get_extra_info("sockname")[1], flush=True)
    loop.run_until_complete(stop.wait())
    server.close()
    os._exit(0)  # open sessions just end; nothing here needs cleaning up


if __name__ == "__main__":
    main()
