// Failed credential fetches are remembered with a backoff that doubles per
// consecutive failure up to its maximum, and starts over after a success.
// The provider reads the clock through Date.now at each call, so the test
// sets the clock itself: no waiting, and no window for a busy machine.
import t, { type Test } from 'tap';
import { createRefreshingProvider } from '../../src/aws/credential-refresh';
import { createCredentialCache } from '../../src/aws/credentials';
import { startFakeContainer } from '../fakes/container';

function fakeClock(t: Test, start = 1_800_000_000_000): { now: number } {
  const clock = { now: start };
  const realNow = Date.now;
  Date.now = () => clock.now;
  t.teardown(() => {
    Date.now = realNow;
  });
  return clock;
}

/**
 * After each failure, the first moment the provider asks its source again,
 * found by stepping the clock: one ms before `expected` it must still answer
 * from the remembered failure, at `expected` it must ask.
 */
async function checkWaits(t: Test, clock: { now: number }, provider: () => Promise<unknown>, calls: () => number, waits: number[]): Promise<void> {
  for (const [index, wait] of waits.entries()) {
    const failedAt = clock.now;
    const before = calls();
    clock.now = failedAt + wait - 1;
    await t.rejects(provider(), `failure ${index + 1}: the remembered error is answered`);
    t.equal(calls(), before, `failure ${index + 1}: no call ${wait - 1} ms after it`);
    clock.now = failedAt + wait;
    await t.rejects(provider());
    t.equal(calls(), before + 1, `failure ${index + 1}: the source is asked again ${wait} ms after it`);
  }
}

t.test('consecutive failures wait 1x, 2x, 4x, 8x the initial backoff, then stay at the maximum', async (t) => {
  const clock = fakeClock(t);
  let calls = 0;
  const provider = createRefreshingProvider(
    async () => {
      calls += 1;
      throw new Error('source down');
    },
    { name: 'test', fetchTimeoutMs: 60_000, backoff: { initialMs: 100, maxMs: 1000 } },
  );
  await t.rejects(provider(), { message: 'source down' });
  t.equal(calls, 1, 'the first request asks the source');
  await checkWaits(t, clock, provider, () => calls, [100, 200, 400, 800, 1000, 1000, 1000]);
});

t.test('a success starts the backoff over at its initial value', async (t) => {
  const clock = fakeClock(t);
  let calls = 0;
  let failing = true;
  const provider = createRefreshingProvider(
    async () => {
      calls += 1;
      if (failing) throw new Error('source down');
      // Ten minutes of life: the refresh is due five minutes before expiry.
      return { identity: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret', expiration: new Date(clock.now + 10 * 60_000) }, source: 'test' };
    },
    { name: 'test', fetchTimeoutMs: 60_000, backoff: { initialMs: 100, maxMs: 1000 } },
  );
  await t.rejects(provider());
  await checkWaits(t, clock, provider, () => calls, [100, 200, 400]);
  failing = false;
  clock.now += 800;
  t.equal((await provider()).accessKeyId, 'AKIDTEST', 'the source recovers');
  const recovered = calls;
  // At the refresh point the source fails again: the still-valid credentials keep serving, the failure waits 100 ms.
  failing = true;
  clock.now += 5 * 60_000;
  t.equal((await provider()).accessKeyId, 'AKIDTEST', 'a failed refresh keeps serving the valid credentials');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(calls, recovered + 1, 'the refresh was tried');
  const failedAt = clock.now;
  clock.now = failedAt + 99;
  await provider();
  t.equal(calls, recovered + 1, 'no call 99 ms after the failure');
  clock.now = failedAt + 100;
  await provider();
  t.equal(calls, recovered + 2, 'asked again at 100 ms: the doubling started over');
});

t.test('the default backoff: 1 s, doubling to 15 s, for a source that fails', async (t) => {
  const container = await startFakeContainer({ failStatus: 503 });
  t.teardown(() => container.close());
  const clock = fakeClock(t);
  let failures = 0;
  const env = {
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/creds`,
  };
  const saved = { ...process.env };
  // The SDK's container provider reads process.env too.
  for (const name of Object.keys(process.env)) if (/^(AWS_|AMAZON_)/.test(name)) delete process.env[name];
  Object.assign(process.env, env);
  t.teardown(() => {
    process.env = saved;
  });
  const cache = createCredentialCache({ env, onEvent: (event) => void (event.outcome === 'failed' && (failures += 1)) });
  const source = cache.sourceFor({ aws_role_session_name: 'kong', aws_imds_protocol_version: 'v1', timeout: 10_000 }, 'us-east-1');
  await t.rejects(source.provider());
  t.equal(failures, 1, 'the first request fetches and fails');
  t.ok(container.requests.length >= 1, 'at the container endpoint');
  await checkWaits(t, clock, () => source.provider(), () => failures, [1000, 2000, 4000, 8000, 15_000, 15_000]);
});
