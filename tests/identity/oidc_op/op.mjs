// A real OpenID provider for warroom's sign-in tests: panva/oidc-provider (OpenID certified)
// with a small login page of its own, so a wrong password ends in `access_denied` instead of
// the development pages' HTTP 500.
//
// Usage: node op.mjs CONFIG.json   (prints "ready <issuer>" once it listens)
// CONFIG: {port, clients: [{client_id, client_secret, redirect_uris, post_logout_redirect_uris}],
//          accounts: {id: {password, email, name, groups}}, jwks_file}
// SIGHUP re-reads the JWKS file (key rotation) and starts signing with its first key.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import Provider from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${config.port}`;
const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function build() {
  const jwks = JSON.parse(readFileSync(config.jwks_file, 'utf8'));
  const provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      ...c,
    })),
    jwks,
    cookies: { keys: ['warroom-test-cookie-key'] },
    pkce: { required: () => true },
    scopes: ['openid', 'email', 'profile', 'groups'],
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'preferred_username'],
      groups: ['groups'],
    },
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: true } },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, id) {
      const account = config.accounts[id];
      if (!account) return undefined;
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: account.email,
            email_verified: true,
            name: account.name,
            preferred_username: id,
            groups: account.groups || [],
          };
        },
      };
    },
    // First-party client: no consent screen, the grant covers what was asked.
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId
        || ctx.oidc.session.grantIdFor(ctx.oidc.client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope(ctx.oidc.params.scope);
      await grant.save();
      return grant;
    },
  });
  provider.on('server_error', (_ctx, err) => console.error('server_error', err));
  return provider;
}

let provider = build();
process.on('SIGHUP', () => {
  provider = build();
  console.log('reloaded');
});

function loginPage(uid, message) {
  return `<!doctype html><html><head><title>Test IdP sign-in</title></head><body>
<h1>Test identity provider</h1>${message ? `<p role="alert">${escape(message)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login">
<label>Username <input name="login" autocomplete="username" autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"></label>
<button type="submit">Sign in</button></form>
<form method="post" action="/interaction/${escape(uid)}/abort"><button type="submit">Cancel</button></form>
</body></html>`;
}

async function readForm(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return new URLSearchParams(Buffer.concat(chunks).toString());
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new Error('interaction mismatch');
  if (req.method === 'GET') {
    res.setHeader('Content-Type', 'text/html; charset=utf-8');
    res.end(loginPage(uid));
    return;
  }
  const form = await readForm(req);
  if (action === 'abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'the user cancelled the sign-in',
    }, { mergeWithLastSubmission: false });
    return;
  }
  const id = form.get('login') || '';
  const account = config.accounts[id];
  if (!account || account.password !== form.get('password')) {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'wrong user name or password',
    }, { mergeWithLastSubmission: false });
    return;
  }
  await provider.interactionFinished(req, res, { login: { accountId: id } }, {
    mergeWithLastSubmission: false,
  });
}

const server = http.createServer(async (req, res) => {
  const match = /^\/interaction\/([^/?]+)(?:\/(login|abort))?/.exec(req.url);
  if (match) {
    try {
      await interaction(req, res, match[1], match[2]);
    } catch (err) {
      console.error('interaction failed', err);
      res.statusCode = 400;
      res.end(`interaction failed: ${escape(err.message)}`);
    }
    return;
  }
  provider.callback()(req, res);
});
server.listen(config.port, '127.0.0.1', () => console.log(`ready ${issuer}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
