"""The CLI side of discovery: `account discover`, recipient checks in `send`, and
`account add --direct` delivering through the test DNS and MAILGUI_DIRECT_PORT."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import trustme
from dns_server import DnsServer
from helpers import assert_one_sentence, outbox_list, show
from smtp_servers import RecordingServer, SmtpServerFactory, server_ssl_context

CANDIDATE_KEYS = {
    "host", "port", "security", "source", "note", "probed", "probe_ok", "certificate_valid",
    "probe_detail",
}  # fmt: skip


def test_discover_json_shape(
    dns_server: DnsServer, profile: Any, ca: trustme.CA, ca_file: str
) -> None:
    server = RecordingServer(
        "tls", ssl_context=server_ssl_context(ca.issue_cert("smtp.corp.test")), ca_file=ca_file
    ).start()
    try:
        dns_server.add("_submissions._tcp.corp.test", "SRV", f"0 1 {server.port} smtp.corp.test.")
        dns_server.add("smtp.corp.test", "A", "127.0.0.1")
        profile.env["MAILGUI_NAMESERVER"] = dns_server.address
        profile.env["SSL_CERT_FILE"] = ca_file  # the probe's "system" store
        # autoconfig would go to https://autoconfig.corp.test: NXDOMAIN in the test DNS
        r = profile.run("account", "discover", "me@corp.test", "--json", timeout=20)
    finally:
        server.stop()
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert set(doc) == {
        "address", "domain", "candidates", "suggested", "steps",
        "imap_candidates", "imap_suggested",
    }  # fmt: skip
    assert doc["address"] == "me@corp.test" and doc["domain"] == "corp.test"
    first = doc["candidates"][0]
    assert set(first) == CANDIDATE_KEYS
    assert first | {"note": None, "probe_detail": None} == {
        "host": "smtp.corp.test",
        "port": server.port,
        "security": "tls",
        "source": "srv",
        "note": None,
        "probed": True,
        "probe_ok": True,
        "certificate_valid": True,
        "probe_detail": None,
    }
    assert doc["suggested"] == first
    assert all(set(s) == {"source", "text"} for s in doc["steps"])
    assert [s["source"] for s in doc["steps"]][:2] == ["srv", "srv"]
    assert any("autoconfig.corp.test does not exist" in s["text"] for s in doc["steps"])


def test_discover_text_and_nothing_found(dns_server: DnsServer, profile: Any) -> None:
    profile.env["MAILGUI_NAMESERVER"] = dns_server.address
    r = profile.run("account", "discover", "me@gmail.com", timeout=20)
    assert r.returncode == 0, r.stderr
    assert "[provider] gmail.com is Gmail / Google Workspace." in r.stdout
    assert "smtp.gmail.com:465 tls" in r.stdout

    r = profile.run("account", "discover", "me@nothing.test", timeout=20)
    assert r.returncode == 69
    assert assert_one_sentence(r.stderr).startswith("No working submission server")

    r = profile.run("account", "discover", "not-an-address")
    assert r.returncode == 65


def test_send_refuses_null_mx_and_warns_about_typos(dns_server: DnsServer, profile: Any) -> None:
    profile.env["MAILGUI_NAMESERVER"] = dns_server.address
    dns_server.add("null.test", "MX", "0 .")
    r = profile.run("account", "add", "relay", "--email", "me@example.org", "--host", "127.0.0.1")
    assert r.returncode == 0, r.stderr
    r = profile.run("send", "--to", "bob@null.test", "--subject", "x", "--body", "y")
    assert r.returncode == 69  # queued first (checks never delay that), then failed for good
    sentence = assert_one_sentence(r.stderr)
    assert "null.test accepts no mail" in sentence and "was not sent" in sentence
    (failed,) = outbox_list(profile)
    assert failed["state"] == "failed" and failed["attempts"] == 0
    assert "null.test accepts no mail" in failed["last_error"]
    assert list(failed["recipient_errors"]) == ["bob@null.test"]
    r = profile.run("outbox", "delete", str(failed["id"]))
    assert r.returncode == 0, r.stderr

    r = profile.run(
        "send", "--to", "bob@gmial.com", "--subject", "x", "--body", "y", "--queue-only"
    )
    assert r.returncode == 0, r.stderr
    assert "Warning: The domain gmial.com does not exist" in r.stderr
    assert "did you mean gmail.com?" in r.stderr
    assert len(outbox_list(profile)) == 1


def test_send_on_a_network_that_denies_every_domain(profile: Any) -> None:
    """A hotel network's resolver says "no such domain" to everything: send does not warn
    that bob's domain does not exist; it says once why the checks were skipped."""
    with DnsServer() as liar:  # no records, not even the DNS root
        env = {**profile.env, "MAILGUI_NAMESERVER": liar.address}
        run = dataclasses.replace(profile, env=env).run
        r = run("account", "add", "relay", "--email", "me@example.org", "--host", "127.0.0.1")
        assert r.returncode == 0, r.stderr
        r = run(
            "send", "--to", "bob@example.org", "carol@example.net", "--subject", "x",
            "--body", "y", "--queue-only",
        )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "does not exist" not in r.stderr
    assert r.stderr.count("Note: The DNS server answers that no domain exists") == 1
    assert len(outbox_list(profile)) == 1


def test_direct_account_delivers_per_domain(
    dns_server: DnsServer, profile: Any, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server("none")
    profile.env["MAILGUI_NAMESERVER"] = dns_server.address
    profile.env["MAILGUI_DIRECT_PORT"] = str(server.port)
    dns_server.add("good.test", "MX", "10 mx.good.test.").add("mx.good.test", "A", "127.0.0.1")
    dns_server.add("down.test", "MX", "10 mx.down.test.").add("mx.down.test", "A", "127.0.0.2")

    r = profile.run("account", "add", "d", "--email", "me@example.org", "--direct")
    assert r.returncode == 0, r.stderr
    assert "direct delivery" in r.stdout
    assert "weaker than a relay account" in r.stderr and "port 25" in r.stderr

    r = profile.run(
        "send", "--to", "ann@good.test", "bob@down.test", "--subject", "Hi", "--body", "x",
        "--json", timeout=30,
    )  # fmt: skip
    assert r.returncode == 75, r.stderr
    doc = json.loads(r.stdout)
    assert doc["state"] == "deferred"
    assert list(doc["recipient_errors"]) == ["bob@down.test"]
    assert server.wait_for(1)[0].rcpt_tos == ["ann@good.test"]
    assert show(profile, doc["id"])["pending"] == ["bob@down.test"]


def test_send_skips_null_mx_recipient_and_sends_to_the_others(
    dns_server: DnsServer, profile: Any, smtp_server: SmtpServerFactory
) -> None:
    server = smtp_server("none")
    profile.env["MAILGUI_NAMESERVER"] = dns_server.address
    dns_server.add("null.test", "MX", "0 .")
    dns_server.add("good.test", "MX", "10 mx.good.test.")
    r = profile.run(
        "account", "add", "relay", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--security", "none",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    r = profile.run(
        "send", "--to", "ann@good.test", "bob@null.test", "--subject", "x", "--body", "y",
        "--json",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr  # some, not all, recipients refused: still done
    doc = json.loads(r.stdout)
    assert doc["state"] == "sent"
    assert list(doc["recipient_errors"]) == ["bob@null.test"]
    assert "null.test accepts no mail" in doc["recipient_errors"]["bob@null.test"]
    assert server.wait_for(1)[0].rcpt_tos == ["ann@good.test"]
    line = assert_one_sentence(r.stderr)
    assert line.startswith("Not sending to bob@null.test: the domain null.test accepts no mail")


def test_send_queues_before_any_dns_answer(
    dns_server: DnsServer, profile: Any, smtp_server: SmtpServerFactory
) -> None:
    """A DNS server that never answers: the message is in the outbox (committed) while
    `send` still waits for the checks, and `send` ends within the check deadline."""
    import sqlite3
    import subprocess
    import time

    from mailgui.core.engine import CHECK_DEADLINE

    server = smtp_server("none")
    profile.env["MAILGUI_NAMESERVER"] = dns_server.address
    dns_server.hang("silent.test")
    r = profile.run(
        "account", "add", "relay", "--email", "me@example.org", "--host", server.host,
        "--port", str(server.port), "--security", "none",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    outbox = profile.home / "data" / "outbox.sqlite3"
    argv = [*profile.command, "send", "--to", "bob@silent.test", "--subject", "x", "--body", "y"]
    started = time.monotonic()
    proc = subprocess.Popen(
        argv, env=profile.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    seen_while_waiting = False
    try:
        while proc.poll() is None:
            if not seen_while_waiting and outbox.exists():
                try:
                    with sqlite3.connect(f"file:{outbox}?mode=ro", uri=True, timeout=0.05) as db:
                        rows = db.execute("SELECT state FROM messages").fetchall()
                except sqlite3.Error:
                    rows = []
                if rows and dns_server.asked("silent.test", "MX") and proc.poll() is None:
                    assert rows == [("queued",)]
                    seen_while_waiting = True
            time.sleep(0.005)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, stderr
    assert seen_while_waiting, "the message was not in the outbox while DNS was unanswered"
    assert dns_server.asked("silent.test", "MX") >= 1
    assert stderr == ""  # no answer: the check is skipped without a word
    assert "Sent message" in stdout
    assert server.wait_for(1)[0].rcpt_tos == ["bob@silent.test"]
    # interpreter start + the deadline + the try on loopback, with room for a slow machine
    assert elapsed < CHECK_DEADLINE + 0.2 + 3.0


def test_send_leaves_no_daemon_thread_running_when_it_fails_before_the_checks_end(
    dns_server: DnsServer, profile: Any
) -> None:
    """A damaged outbox ends `send` while its recipient check still waits for DNS. The
    check thread must not be a daemon: CPython 3.11 crashed (SIGSEGV in the import lock)
    finalizing under a daemon thread that was still importing dnspython, 1 exit in ~150
    under load. The interpreter now waits for the look-up, which has its own timeout."""
    import subprocess
    import sys
    import time

    from mailgui.core.recipient_checks import CHECK_TIMEOUT

    profile.env["MAILGUI_NAMESERVER"] = dns_server.address
    dns_server.hang("silent.test")
    r = profile.run("account", "add", "relay", "--email", "me@example.org", "--host", "127.0.0.1")
    assert r.returncode == 0, r.stderr
    outbox = profile.home / "data" / "outbox.sqlite3"
    outbox.parent.mkdir(parents=True, exist_ok=True)
    outbox.write_bytes(b"not a database, " * 4096)
    code = (
        "import threading, mailgui.cli\n"
        "rc = mailgui.cli.main(['send', '--to', 'bob@silent.test', '--subject', 'x',"
        " '--body', 'y'])\n"
        "alive = [t.name for t in threading.enumerate() if t.daemon and t.is_alive()]\n"
        "print(rc, alive)\n"
    )
    started = time.monotonic()
    r = subprocess.run(
        [sys.executable, "-c", code], env=profile.env, capture_output=True, text=True, timeout=30
    )
    elapsed = time.monotonic() - started
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["78", "[]"], r.stdout
    assert "is damaged" in r.stderr
    assert dns_server.asked("silent.test", "MX") >= 1
    assert elapsed < CHECK_TIMEOUT + 5.0  # exit waited for the look-up, bounded by its timeout
