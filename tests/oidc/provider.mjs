// A real OpenID provider for the tests: node-oidc-provider with its
// development login and consent pages, standing in for the province's
// single sign-on (蒙速办). Started by tests/support/oidc_provider.py:
//
//   node provider.mjs <config.json>
//
// config.json: {client_id, client_secret, redirect_uri, post_logout_redirect_uri,
//               users: {login: {claim: value, …}}}
// It listens on 127.0.0.1 on a free port and prints one line
// `READY <issuer>` on stdout once it answers.
//
// Province-style claim names (xm 姓名, sfzh 身份证号, sjhm 手机号码) under
// the scope `msb_profile`: the relying party maps them by configuration.
//
// One test hook, on a path no client uses: `POST /__test__/jwks/other` makes
// /jwks publish another key under the same key id (the ID tokens are still
// signed with the real one: "signed by another key" as the relying party sees
// it), `POST /__test__/jwks/real` restores it.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const KID = 'test-signing-key';

function rsaJwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
}

function publicPart(jwk) {
  const { kty, n, e, kid, alg, use } = jwk;
  return { kty, n, e, kid, alg, use };
}

const signing = rsaJwk();
const other = rsaJwk();
let publishOther = false;

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: config.client_id,
        client_secret: config.client_secret,
        redirect_uris: [config.redirect_uri],
        post_logout_redirect_uris: [config.post_logout_redirect_uri],
        grant_types: ['authorization_code'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    jwks: { keys: [signing] },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    pkce: { required: () => true },
    scopes: ['openid', 'msb_profile'],
    claims: { openid: ['sub'], msb_profile: ['xm', 'sfzh', 'sjhm'] },
    // Short, so that a test that moves the relying party's clock 5 minutes
    // ahead sees an expired ID token while its own login row is still valid.
    ttl: { IdToken: 120 },
    features: { devInteractions: { enabled: true }, rpInitiatedLogout: { enabled: true } },
    async findAccount(ctx, id) {
      const claims = config.users[id];
      if (claims === undefined) return undefined;
      return { accountId: id, async claims() { return { sub: id, ...claims }; } };
    },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  const callback = provider.callback();
  server.on('request', (req, res) => {
    if (req.method === 'POST' && req.url.startsWith('/__test__/jwks/')) {
      publishOther = req.url.endsWith('/other');
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'GET' && req.url === '/jwks' && publishOther) {
      res.writeHead(200, { 'content-type': 'application/jwk-set+json' });
      res.end(JSON.stringify({ keys: [publicPart(other)] }));
      return;
    }
    callback(req, res);
  });
  process.stdout.write(`READY ${issuer}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
