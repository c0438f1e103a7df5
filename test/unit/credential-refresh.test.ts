import t from 'tap';
import { createRefreshingProvider, fixedProvider } from '../../src/aws/credential-refresh';

const options = { name: 'test', fetchTimeoutMs: 1000, backoff: { initialMs: 1000, maxMs: 1000 } };
const identity = (expiresInMs?: number) => ({
  accessKeyId: 'AKIDTEST',
  secretAccessKey: 'secret',
  ...(expiresInMs === undefined ? {} : { expiration: new Date(Date.now() + expiresInMs) }),
});

t.test('route keys are always fresh', async (t) => {
  const keys = identity();
  const provider = fixedProvider(keys);
  t.equal(provider.fresh(), keys);
  t.equal(await provider(), keys);
});

t.test('a refreshing provider is fresh from its first fetch until the refresh is due', async (t) => {
  let fetches = 0;
  const hour = identity(60 * 60 * 1000);
  const provider = createRefreshingProvider(async () => ((fetches += 1), { identity: hour, source: 'test' }), options);
  t.equal(provider.fresh(), undefined, 'nothing before the first fetch');
  t.equal(await provider(), hour);
  t.equal(provider.fresh(), hour, 'cached, an hour from expiry');
  t.equal(fetches, 1);

  // Expiring now: the refresh is due at once, so the cache is not fresh and a call fetches again.
  let next = identity(0);
  const due = createRefreshingProvider(async () => ({ identity: next, source: 'test' }), options);
  await due().catch(() => undefined);
  t.equal(due.fresh(), undefined, 'credentials at their expiry are not fresh');
  next = identity(60 * 60 * 1000);
  t.equal(await due(), next, 'the next call fetches');
  t.equal(due.fresh(), next);
});
