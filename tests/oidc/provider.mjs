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
// One test hook, on a path no client uses: `POST /__test__/signing/other`
// makes the token endpoint hand out ID tokens signed with another key under
// the published key id (the JWKS still shows the real key: "an ID token signed
// by another key"); `POST /__test__/signing/real` restores it.

import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { CompactSign, decodeProtectedHeader, importJWK } from 'jose';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const KID = 'test-signing-key';

function rsaJwk() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: KID, alg: 'RS256', use: 'sig' };
}

process.stderr.write('oidc-provider: modules loaded\n');
const signing = rsaJwk();
const otherKey = await importJWK(rsaJwk(), 'RS256');
let signWithOther = false;
process.stderr.write('oidc-provider: keys made\n');

// The same header and payload, signed with the other key.
async function resign(idToken) {
  const [, payload] = idToken.split('.');
  return new CompactSign(Buffer.from(payload, 'base64url'))
    .setProtectedHeader(decodeProtectedHeader(idToken))
    .sign(otherKey);
}

// Pass the token endpoint's answer through, its id_token signed with the other key.
function resigningTokens(res) {
  const chunks = [];
  const { end, write } = res;
  res.write = (chunk) => { chunks.push(Buffer.from(chunk)); return true; };
  res.end = (chunk, ...rest) => {
    if (chunk && typeof chunk !== 'function') chunks.push(Buffer.from(chunk));
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const finish = (text) => {
      res.write = write;
      res.setHeader('content-length', Buffer.byteLength(text));
      end.call(res, text);
    };
    if (!body.id_token) return finish(JSON.stringify(body));
    resign(body.id_token).then((token) => finish(JSON.stringify({ ...body, id_token: token })));
    return res;
  };
}

const server = createServer();
server.listen(0, '127.0.0.1', () => {
  process.stderr.write('oidc-provider: listening\n');
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
    if (req.method === 'POST' && req.url.startsWith('/__test__/signing/')) {
      signWithOther = req.url.endsWith('/other');
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'POST' && req.url === '/token' && signWithOther) resigningTokens(res);
    callback(req, res);
  });
  process.stdout.write(`READY ${issuer}\n`);
});

process.on('SIGTERM', () => server.close(() => process.exit(0)));
