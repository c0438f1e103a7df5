// Caching of credentials: one fetch for a burst and for routes that resolve
// alike, refresh ahead of expiry, failures cached with backoff, old
// credentials kept while a refresh fails, hanging sources bounded.
import t, { type Test } from 'tap';
import { startHarness, type Harness } from '../support/harness';
import { startFakeImds, type FakeImds } from '../fakes/imds';
import { startFakeContainer, type FakeContainer } from '../fakes/container';
import { secretsOfIssued } from '../fakes/sts';
import { eventually } from '../support/eventually';

const POD_TOKEN = 'pod-identity-SECRET-token-never-logged-01';
const secrets = { ...secretsOfIssued('imds', 50), ...secretsOfIssued('container', 50) };
let imds: FakeImds;
let container: FakeContainer;
const baseEnv = { ...process.env };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

t.before(async () => {
  imds = await startFakeImds({ mode: 'v2-required' });
  container = await startFakeContainer({ token: POD_TOKEN });
});
t.teardown(async () => {
  process.env = baseEnv;
  await Promise.all([imds.close(), container.close()]);
});

function useEnv(extra: Record<string, string>): void {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(baseEnv)) if (!/^(AWS_|AMAZON_)/.test(name)) env[name] = value;
  process.env = { ...env, AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials', AWS_CONFIG_FILE: '/nonexistent/config', AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url, AWS_ENDPOINT_URL_STS: 'http://127.0.0.1:9', ...extra };
  imds.requests.length = 0;
  container.requests.length = 0;
}
const useContainer = () =>
  useEnv({ AWS_EC2_METADATA_DISABLED: 'true', AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/creds`, AWS_CONTAINER_AUTHORIZATION_TOKEN: POD_TOKEN });

const route = (name: string, extra = '', timeout = 800) => `
  - name: ${name}
    match: { path: /${name} }
    function_name: F
    aws_region: us-west-2
    host: 127.0.0.1
    port: {{lambda}}
    disable_https: true
    timeout: ${timeout}
${extra}`;

async function harnessFor(t: Test, routes: string): Promise<Harness> {
  const h = await startHarness({ config: `routes:${routes}`, env: process.env, lambda: { secrets } });
  t.teardown(() => h.close());
  return h;
}

t.test('100 concurrent first requests make one IMDS round trip', async (t) => {
  useEnv({});
  // A generous timeout: this test counts fetches, not latency under a loaded machine.
  const h = await harnessFor(t, route('a', '', 10_000));
  const answers = await Promise.all(Array.from({ length: 100 }, () => h.send({ path: '/a' })));
  t.same([...new Set(answers.map((r) => `${r.outcome} ${r.status}`))], ['immediate 200'], 'all 100 answered 200');
  t.equal(imds.requests.filter((q) => q.method === 'PUT').length, 1, 'one token request');
  t.equal(imds.credentialsServed(), 1, 'one credentials document');
  t.ok(h.lambda.invocations.every((i) => i.accessKeyId === imds.lastIssued()?.accessKeyId));
  await h.send({ path: '/a' });
  t.equal(imds.requests.length, 3, 'later requests are served from the cache');
});

t.test('routes that resolve the same way share one fetch; a different IMDS mode does not', async (t) => {
  useEnv({});
  const served = imds.credentialsServed();
  const h = await harnessFor(t, route('a') + route('b', '', 900) + route('c', '    aws_imds_protocol_version: v2'));
  t.equal((await h.send({ path: '/a' })).status, 200);
  t.equal((await h.send({ path: '/b' })).status, 200);
  t.equal(imds.credentialsServed() - served, 1, 'a and b share the chain');
  t.equal((await h.send({ path: '/c' })).status, 200);
  t.equal(imds.credentialsServed() - served, 2, 'c resolves differently');
});

t.test('credentials are refreshed ahead of a short Expiration, not per request', async (t) => {
  useContainer();
  container.options.ttlMs = 4000;
  t.teardown(() => {
    container.options.ttlMs = undefined;
  });
  const h = await harnessFor(t, route('a'));
  await h.send({ path: '/a' });
  await h.send({ path: '/a' });
  t.equal(container.requests.length, 1, 'fresh credentials are reused');
  const first = h.lambda.invocations[0]?.accessKeyId;
  // Past half the 4 s lifetime (a lower bound: a busy machine only sleeps longer, and even past expiry this request fetches).
  await sleep(2200);
  const r = await h.send({ path: '/a' });
  t.equal(r.status, 200);
  t.ok(await eventually(() => container.requests.length >= 2), 'the refresh reached the container');
  t.equal(container.requests.length, 2, 'half-way to expiry one refresh was made');
  await h.send({ path: '/a' });
  t.not(h.lambda.invocations.at(-1)?.accessKeyId, first, 'requests now sign with the new credentials');
  t.equal(h.lambda.invocations.at(-1)?.accessKeyId, container.lastIssued()?.accessKeyId);
});

t.test('a failed refresh keeps serving the still-valid credentials', async (t) => {
  useContainer();
  // Refresh due at 3 s, credentials usable until 4.5 s: a 1.3 s margin for the request after the 3.2 s sleep.
  container.options.ttlMs = 6000;
  t.teardown(() => {
    container.options.ttlMs = undefined;
    container.options.failStatus = undefined;
  });
  const h = await harnessFor(t, route('a'));
  t.equal((await h.send({ path: '/a' })).status, 200);
  const first = h.lambda.invocations[0]?.accessKeyId;
  container.options.failStatus = 503;
  await sleep(3200);
  t.equal((await h.send({ path: '/a' })).status, 200);
  // The refresh runs behind that answer; once its failure is logged the 1 s backoff has begun.
  t.ok(await eventually(() => h.logs.some((l) => l.msg === 'AWS credentials fetch failed')), 'the refresh failed');
  t.equal((await h.send({ path: '/a' })).status, 200);
  t.equal(container.requests.length, 2, 'one failed refresh, then backoff');
  t.ok(h.lambda.invocations.every((i) => i.accessKeyId === first), 'all signed with the first credentials');
  t.ok(h.logs.some((l) => l.msg === 'AWS credentials fetch failed'), 'the failed refresh is logged');
});

t.test('a failing source is remembered with backoff instead of being asked per request', async (t) => {
  useContainer();
  container.options.failStatus = 503;
  t.teardown(() => {
    container.options.failStatus = undefined;
  });
  const h = await harnessFor(t, route('a'));
  const answers = await Promise.all(Array.from({ length: 10 }, () => h.send({ path: '/a' })));
  t.ok(answers.every((r) => r.status === 500));
  t.equal((await h.send({ path: '/a' })).status, 500);
  t.equal(container.requests.length, 1, 'one call for 11 requests');
  container.options.failStatus = undefined;
  await sleep(1100);
  t.equal((await h.send({ path: '/a' })).status, 200, 'recovers after the backoff');
  t.equal(container.requests.length, 2);
});

t.test('a hanging IMDS is bounded: 500 within the route timeout', async (t) => {
  useEnv({});
  imds.options.hang = true;
  t.teardown(() => {
    imds.options.hang = false;
  });
  const h = await harnessFor(t, route('a'));
  const started = Date.now();
  const r = await h.send({ path: '/a' });
  const elapsed = Date.now() - started;
  t.equal(r.status, 500);
  // The cause names the bound: the route's 800 ms deadline ended the wait, not the SDK's own IMDS timeout.
  t.match(h.logs.find((l) => l.msg === 'request failed'), { cause: 'credentials', error: /the credential chain gave no answer within 800 ms/ });
  t.ok(elapsed >= 790, `answered after ${elapsed} ms, not before the 800 ms deadline`);
  t.equal(h.lambda.invocations.length, 0);
});

t.test('a hanging container endpoint is bounded by the route timeout', async (t) => {
  useContainer();
  container.options.hang = true;
  t.teardown(() => {
    container.options.hang = false;
  });
  const h = await harnessFor(t, route('a'));
  const started = Date.now();
  const r = await h.send({ path: '/a' });
  const elapsed = Date.now() - started;
  t.equal(r.status, 500);
  t.match(h.logs.find((l) => l.msg === 'request failed'), { cause: 'credentials', error: /the credential chain gave no answer within 800 ms/ });
  t.ok(elapsed >= 790, `answered after ${elapsed} ms, not before the 800 ms deadline`);
  t.notOk(h.rawLogs().includes(POD_TOKEN), 'the authorization token is never logged');
  t.notOk(r.body.toString().includes(POD_TOKEN));
});
