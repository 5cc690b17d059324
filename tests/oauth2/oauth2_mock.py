"""A real OAuth2 authorization server for the tests: npm ``oauth2-mock-server`` 8.2.3,
run by ``node/server.mjs`` on 127.0.0.1 and a port the system picks (see that script
for what it adds: RFC 8414 metadata, a device endpoint, refresh tokens checked and
rotated, test controls). Installed with
``npm ci --prefix tests/oauth2/node`` (node_modules is gitignored).
"""

from __future__ import annotations

import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

NODE_DIR = Path(__file__).parent / "node"
SCRIPT = NODE_DIR / "server.mjs"
INSTALL = "npm ci --prefix tests/oauth2/node"


def installed() -> bool:
    return (NODE_DIR / "node_modules" / "oauth2-mock-server" / "package.json").is_file()


class MockOAuth2Server:
    """One ``node server.mjs`` process; stopped by closing its standard input."""

    def __init__(
        self,
        *,
        rfc8414: bool = False,
        device: bool = False,
        key_file: str | None = None,
        cert_file: str | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.args = ["node", str(SCRIPT)]
        if rfc8414:
            self.args.append("--rfc8414")
        if device:
            self.args.append("--device")
        if key_file and cert_file:
            self.args += ["--key", key_file, "--cert", cert_file]
        self.ca_file = ca_file
        self.process: subprocess.Popen[bytes] | None = None
        self.issuer = ""
        self.port = 0

    def start(self) -> MockOAuth2Server:
        self.process = subprocess.Popen(
            self.args,
            cwd=NODE_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # printed once it listens
        if not line:
            code = self.process.wait(timeout=10)
            raise RuntimeError(f"the OAuth2 test server did not start (exit status {code})")
        ready = json.loads(line)
        self.issuer = ready["issuer"]
        self.port = ready["port"]
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        process, self.process = self.process, None
        assert process.stdin is not None
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()

    # -- the test controls of server.mjs ----------------------------------------------------

    def _call(self, path: str, body: dict[str, Any] | None = None) -> Any:
        import ssl

        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.issuer}{path}", data=data, headers={"Content-Type": "application/json"}
        )
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return json.loads(response.read())

    def configure(self, **settings: Any) -> None:
        """``ttl``, ``rotate``, ``fail_next={"error": ..., "status": ...}``,
        ``device_script=[...]``, ``device_interval``."""
        self._call("/_test/config", settings)

    def revoke_all(self) -> None:
        """Every refresh token issued so far gets invalid_grant from now on."""
        self._call("/_test/revoke", {})

    def log(self) -> dict[str, list[dict[str, Any]]]:
        """The token, authorize and device requests the server has seen."""
        result: dict[str, list[dict[str, Any]]] = self._call("/_test/log")
        return result

    def token_requests(self, grant_type: str | None = None) -> list[dict[str, Any]]:
        return [
            r for r in self.log()["token"] if grant_type is None or r["grant_type"] == grant_type
        ]

    def jwks(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("/jwks")
        return result
