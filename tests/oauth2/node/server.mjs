// The authorization server of the tests in tests/oauth2: npm oauth2-mock-server 8.2.3
// (issuer metadata, /authorize that redirects straight back with a code, PKCE, refresh
// tokens, signed JWTs), started on 127.0.0.1 and a port the system picks, plus what a
// test needs to steer it per test through its own hooks (beforeTokenSigning for exp and
// a jti, beforeResponse for errors, rotation and expires_in). Installed with
// `npm ci --prefix tests/oauth2/node` (node_modules/ is gitignored here); Node 20.19+.
//
//   node server.mjs [--rfc8414] [--device] [--key KEY.pem --cert CERT.pem]
//
// --rfc8414  serve the metadata at /.well-known/oauth-authorization-server only (the
//            OpenID path then answers 404), else at /.well-known/openid-configuration only
// --device   add an RFC 8628 device authorization endpoint (the mock has none) and the
//            device_code grant at /token, answered as POST /_test/config scripts it
// --key/--cert  serve https
//
// It prints one JSON line {"issuer": URL, "port": N} once it listens and stops when its
// standard input closes. Test controls (JSON bodies), on the same server:
//   POST /_test/config {ttl, rotate, fail_next, device_script, device_interval}
//   POST /_test/revoke   every refresh token issued so far stops working (invalid_grant)
//   GET  /_test/log      the token and authorize requests seen, with no secrets cut out
//
// Refresh tokens are checked as a real server does (the mock takes any): one that was
// never issued, was revoked, or was replaced by rotation gets invalid_grant.

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer as createHttp } from "node:http";
import { createServer as createHttps } from "node:https";
import express from "express";
import { OAuth2Issuer, OAuth2Service } from "oauth2-mock-server";

const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : undefined;
};

const rfc8414 = flag("--rfc8414");
const device = flag("--device");
const key = option("--key");
const cert = option("--cert");
const wellKnown = rfc8414
  ? "/.well-known/oauth-authorization-server"
  : "/.well-known/openid-configuration";

const issuer = new OAuth2Issuer();
await issuer.keys.generate("RS256");
const service = new OAuth2Service(issuer, { wellKnownDocument: wellKnown });

const config = {
  ttl: 3600, // access token lifetime: the JWT's exp and the response's expires_in
  rotate: true, // a refresh answers with a new refresh token (the old one then dies)
  fail_next: null, // {error, status}: the next token response is this error
  device_script: ["authorization_pending", "ok"], // answers to device_code polls
  device_interval: 1,
};
const live = new Set(); // refresh tokens that work
const log = { token: [], authorize: [], device: [] };
const devices = new Map(); // device_code -> remaining script

service.on("beforeTokenSigning", (token) => {
  token.payload.exp = Math.floor(Date.now() / 1000) + config.ttl;
  token.payload.jti = randomUUID(); // two tokens of one second differ, as real ones do
});

service.on("beforeResponse", (response, req) => {
  const body = req.body ?? {};
  log.token.push({
    grant_type: body.grant_type,
    client_id: body.client_id,
    code_verifier: body.code_verifier ?? null,
    redirect_uri: body.redirect_uri ?? null,
    refresh_token: body.refresh_token ?? null,
    scope: body.scope ?? null,
    at: Date.now() / 1000,
  });
  if (config.fail_next) {
    const { error, status } = config.fail_next;
    config.fail_next = null;
    response.statusCode = status ?? 400;
    response.body = { error, error_description: "Set by the test." };
    return;
  }
  if (response.statusCode !== 200) return;
  if (body.grant_type === "refresh_token") {
    if (!live.has(body.refresh_token)) {
      response.statusCode = 400;
      response.body = {
        error: "invalid_grant",
        error_description: "The refresh token is not valid.",
      };
      return;
    }
    if (config.rotate) live.delete(body.refresh_token);
    else delete response.body.refresh_token;
  }
  response.body.expires_in = config.ttl;
  if (response.body.refresh_token) live.add(response.body.refresh_token);
});

const DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code";

const metadata = () =>
  new Promise((resolve) => service.openidConfigurationHandler({}, { json: resolve }));

const app = express();
app.disable("x-powered-by");

app.get("/authorize", (req, _res, next) => {
  log.authorize.push({ ...req.query });
  next();
});
app.post("/_test/config", express.json(), (req, res) => {
  Object.assign(config, req.body ?? {});
  res.json(config);
});
app.post("/_test/revoke", (_req, res) => {
  live.clear();
  res.json({});
});
app.get("/_test/log", (_req, res) => res.json(log));

app.get(wellKnown, async (_req, res) => {
  const document = await metadata();
  document.grant_types_supported.push("refresh_token");
  if (device) {
    document.device_authorization_endpoint = `${issuer.url}/device_authorization`;
    document.grant_types_supported.push(DEVICE_GRANT);
  }
  res.json(document);
});

if (device) {
  app.post("/device_authorization", express.urlencoded({ extended: false }), (req, res) => {
    const deviceCode = randomUUID();
    devices.set(deviceCode, [...config.device_script]);
    log.device.push({ client_id: req.body.client_id, scope: req.body.scope });
    res.json({
      device_code: deviceCode,
      user_code: "WDJB-MJHT",
      verification_uri: `${issuer.url}/device`,
      verification_uri_complete: `${issuer.url}/device?user_code=WDJB-MJHT`,
      expires_in: 600,
      interval: config.device_interval,
    });
  });
  // The body parsed here stays parsed: the mock's own parser below skips a read request.
  app.post("/token", express.urlencoded({ extended: false }), async (req, res, next) => {
    if (req.body?.grant_type !== DEVICE_GRANT) return next();
    log.token.push({
      grant_type: DEVICE_GRANT,
      client_id: req.body.client_id,
      at: Date.now() / 1000,
    });
    res.set("Cache-Control", "no-store");
    const script = devices.get(req.body.device_code);
    if (!script) return res.status(400).json({ error: "invalid_grant" });
    const answer = script.length > 1 ? script.shift() : script[0];
    if (answer !== "ok") return res.status(400).json({ error: answer });
    devices.delete(req.body.device_code);
    const refresh = randomUUID();
    live.add(refresh);
    res.json({
      access_token: await issuer.buildToken({
        expiresIn: config.ttl,
        scopesOrTransform: (_header, payload) => Object.assign(payload, { jti: randomUUID() }),
      }),
      token_type: "Bearer",
      expires_in: config.ttl,
      refresh_token: refresh,
    });
  });
}

app.use(service.requestHandler);

const server =
  key && cert ? createHttps({ key: readFileSync(key), cert: readFileSync(cert) }, app) : createHttp(app);

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  issuer.url = `${key && cert ? "https" : "http"}://127.0.0.1:${port}`;
  process.stdout.write(`${JSON.stringify({ issuer: issuer.url, port })}\n`);
});

// Stopped by closing its standard input (or by a signal, as any process).
process.stdin.resume();
process.stdin.on("end", () => process.exit(0));
