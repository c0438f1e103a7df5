// The lean invoke (fast-invoke.ts) driven directly against the loopback fake
// Lambda: Envoy's cancel stops a request at once whether it is on a connection
// or still queued for one, the route timeout covers the whole invocation (the
// credential wait included, where the signing's own outcome still decides the
// error), and requests sign with what the credential provider hands out, also
// across its refreshes.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import t, { type Test } from 'tap';
import { Pool } from 'undici';
import type { AwsCredentialIdentity } from '@smithy/types';
import { createCancellation } from '../../src/cancellation';
import { createRefreshingProvider } from '../../src/aws/credential-refresh';
import { createCredentialCache } from '../../src/aws/credentials';
import { LambdaExtprocError } from '../../src/errors';
import { createFastInvoke, type FastInvoke } from '../../src/lambda/fast-invoke';
import type { SigningCredentials } from '../../src/lambda/sigv4';
import { startFakeLambda, type FakeLambda } from '../fakes/lambda';
import { startFakeServer } from '../fakes/http';
import { failureOf } from '../support/failure-of';

const KEY = { accessKeyId: 'AKIDFAST', secretAccessKey: 'fast-secret' };
const fixed: SigningCredentials = Object.assign(async () => KEY, { fresh: () => KEY });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Waits for `what`; a condition that never comes fails the test instead of hanging it. */
async function until(what: () => boolean, limitMs = 10_000): Promise<void> {
  // performance.now: one test sets Date.now's clock itself.
  const started = performance.now();
  while (!what()) {
    if (performance.now() - started > limitMs) throw new Error(`still waiting after ${limitMs} ms`);
    await sleep(5);
  }
}

interface Setup {
  readonly fake: FakeLambda;
  /** Connections the fake has seen close. */
  readonly closed: () => number;
  /** Answers every held invocation. */
  release(): void;
  invokeOf(functionName: string, options?: { timeout?: number; credentials?: SigningCredentials }): FastInvoke;
}

async function setup(t: Test, secrets: Record<string, string> = { [KEY.accessKeyId]: KEY.secretAccessKey }): Promise<Setup> {
  let release: () => void = () => undefined;
  let held = new Promise<void>((resolve) => (release = resolve));
  const fake = await startFakeLambda({
    secrets,
    functions: {
      Echo: () => ({}),
      Held: async () => {
        await held;
        return {};
      },
    },
  });
  let closed = 0;
  // startFakeLambda hands back startFakeServer's node:http server too.
  (fake as FakeLambda & { server: Server }).server.on('connection', (socket: Socket) => socket.once('close', () => closed++));
  // One connection: a second request waits in the pool's queue.
  const pool = new Pool(fake.url, { connections: 1, pipelining: 1 });
  t.teardown(async () => {
    release();
    await pool.destroy();
    await fake.close();
  });
  return {
    fake,
    closed: () => closed,
    release() {
      release();
      held = new Promise<void>((resolve) => (release = resolve));
    },
    invokeOf: (functionName, options = {}) =>
      createFastInvoke(
        { endpoint: fake.url, region: 'us-east-1', credentials: options.credentials ?? fixed, pool },
        { functionName, qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: options.timeout ?? 30_000 },
      ),
  };
}

const payload = (marker: string) => Buffer.from(JSON.stringify({ marker }));
const markers = (fake: FakeLambda) => fake.invocations.map((i) => (i.json() as { marker: string }).marker);

t.test('answers with the status, the body and the raw headers of Lambda', async (t) => {
  const s = await setup(t);
  const result = await s.invokeOf('Echo')(payload('a'), createCancellation());
  t.equal(result.status, 200);
  t.same(JSON.parse(result.body.toString('utf8')), { marker: 'a' }, 'the echo function returned the payload');
  const names = result.headers.map(([name]) => name);
  t.ok(names.includes('x-amzn-requestid') && names.includes('x-amz-executed-version'), 'Lambda headers, lower-case names');
  t.same(markers(s.fake), ['a'], 'Lambda got one signed request');
  t.equal(s.fake.invocations[0]?.headers['user-agent'], 'lambda-extproc');
});

t.test("repeated headers are joined with ',' and values are read as UTF-8", async (t) => {
  const fake = await startFakeServer((_request, _body, response) => {
    response.setHeader('X-Twice', ['one', 'two']);
    // node:http writes one byte per character: these are the UTF-8 bytes of "✓".
    response.setHeader('X-Text', Buffer.from('✓', 'utf8').toString('latin1'));
    response.writeHead(200, { 'content-type': 'application/json' });
    response.end('{}');
  });
  const pool = new Pool(fake.url, { connections: 1 });
  t.teardown(async () => {
    await pool.destroy();
    await fake.close();
  });
  const invoke = createFastInvoke(
    { endpoint: fake.url, region: 'us-east-1', credentials: fixed, pool },
    { functionName: 'F', qualifier: undefined, invocationType: 'RequestResponse', logType: 'None', timeout: 30_000 },
  );
  const result = await invoke(payload('h'), createCancellation());
  const headers = new Map(result.headers);
  t.equal(headers.get('x-twice'), 'one,two');
  t.equal(headers.get('x-text'), '✓');
  t.equal(headers.get('content-type'), 'application/json');
});

t.test('a cancel stops a request that is on a connection at once, and closes that connection', async (t) => {
  const s = await setup(t);
  const cancellation = createCancellation();
  const pending = s.invokeOf('Held')(payload('held'), cancellation);
  await until(() => s.fake.invocations.length === 1);
  cancellation.cancel();
  const error = await failureOf(pending);
  t.equal(error.kind, 'internal');
  t.match(error.message, /cancelled/);
  await until(() => s.closed() === 1);
  t.pass('the connection that carried the request closed');
});

t.test('a cancel stops a queued request: it fails at once and is never sent', async (t) => {
  const s = await setup(t);
  const first = s.invokeOf('Held')(payload('first'), createCancellation());
  await until(() => s.fake.invocations.length === 1);
  const cancellation = createCancellation();
  const queued = s.invokeOf('Echo')(payload('queued'), cancellation);
  cancellation.cancel();
  // Still held: the queued request cannot have been answered, only stopped.
  t.equal((await failureOf(queued)).kind, 'internal');
  s.release();
  t.equal((await first).status, 200);
  t.equal((await s.invokeOf('Echo')(payload('after'), createCancellation())).status, 200);
  t.same(markers(s.fake), ['first', 'after'], 'the cancelled request never reached Lambda');
});

t.test('a request cancelled before it starts is never sent', async (t) => {
  const s = await setup(t);
  const cancellation = createCancellation();
  cancellation.cancel();
  t.equal((await failureOf(s.invokeOf('Echo')(payload('late'), cancellation))).kind, 'internal');
  t.equal((await s.invokeOf('Echo')(payload('next'), createCancellation())).status, 200);
  t.same(markers(s.fake), ['next']);
});

t.test('the route timeout stops a request on a connection: lambda_timeout, connection closed', async (t) => {
  const s = await setup(t);
  const error = await failureOf(s.invokeOf('Held', { timeout: 150 })(payload('slow'), createCancellation()));
  t.equal(error.kind, 'lambda_timeout');
  t.same(markers(s.fake), ['slow'], 'the request was sent');
  await until(() => s.closed() === 1);
  t.pass('and its connection closed');
});

t.test('the route timeout covers the credential wait; the signing decides the error, nothing is sent', async (t) => {
  const s = await setup(t);
  // A provider with nothing at hand (no fresh()): every request waits for it.
  const slow = (answer: () => Promise<AwsCredentialIdentity>): SigningCredentials => () => sleep(300).then(answer);
  const late = await failureOf(s.invokeOf('Echo', { timeout: 100, credentials: slow(async () => KEY) })(payload('late'), createCancellation()));
  t.equal(late.kind, 'lambda_timeout', 'credentials that come after the timeout: the request is not sent');
  const failing = slow(() => Promise.reject(new LambdaExtprocError('credentials', 'AWS credentials: the credential chain gave no answer within 100 ms')));
  const failed = await failureOf(s.invokeOf('Echo', { timeout: 100, credentials: failing })(payload('failed'), createCancellation()));
  t.equal(failed.kind, 'credentials', "the provider's own failure is the answer, as before");
  const cancellation = createCancellation();
  const waiting = s.invokeOf('Echo', { credentials: slow(async () => KEY) })(payload('cancelled'), cancellation);
  cancellation.cancel();
  t.equal((await failureOf(waiting)).kind, 'internal', 'cancelled while waiting for credentials');
  t.same(markers(s.fake), [], 'none of them reached Lambda');
});

t.test('requests sign with what the provider hands out, across its refreshes', async (t) => {
  const realNow = Date.now;
  const clock = { now: realNow() };
  Date.now = () => clock.now;
  t.teardown(() => {
    Date.now = realNow;
  });
  let fetches = 0;
  const provider = createRefreshingProvider(
    async () => {
      fetches += 1;
      return { identity: { accessKeyId: `AKIDROTATE${fetches}`, secretAccessKey: `secret-${fetches}`, expiration: new Date(clock.now + 10 * 60_000) }, source: 'test' };
    },
    { name: 'test', fetchTimeoutMs: 5000, backoff: { initialMs: 1000, maxMs: 1000 } },
  );
  const s = await setup(t, { AKIDROTATE1: 'secret-1', AKIDROTATE2: 'secret-2', AKIDROTATE3: 'secret-3' });
  const invoke = s.invokeOf('Echo', { credentials: provider });
  const keyOfLast = () => s.fake.invocations.at(-1)?.accessKeyId;

  t.equal((await invoke(payload('1'), createCancellation())).status, 200);
  t.equal(keyOfLast(), 'AKIDROTATE1', 'the first request waits for the first fetch');
  await invoke(payload('2'), createCancellation());
  t.equal(fetches, 1, 'fresh credentials are used without another fetch');

  // Past the refresh point (5 min before expiry), before expiry: the provider refreshes in the background.
  clock.now += 6 * 60_000;
  await invoke(payload('3'), createCancellation());
  t.equal(keyOfLast(), 'AKIDROTATE1', 'while the refresh runs, the still-valid credentials sign');
  await until(() => provider.fresh() !== undefined);
  t.equal(fetches, 2);
  await invoke(payload('4'), createCancellation());
  t.equal(keyOfLast(), 'AKIDROTATE2', 'once the provider has replaced them, the old (unexpired) credentials never sign again');

  // Past expiry: nothing usable is at hand, the request waits for the fetch.
  clock.now += 20 * 60_000;
  await invoke(payload('5'), createCancellation());
  t.equal(keyOfLast(), 'AKIDROTATE3', 'expired credentials are not used');
  t.same(s.fake.rejected, [], 'every signature checked out');
});

t.test("a route's credential source tells what it holds fresh", async (t) => {
  const source = createCredentialCache({ env: {} }).sourceFor(
    { aws_key: 'AKIDROUTE', aws_secret: 'route-secret', aws_role_session_name: 'kong', aws_imds_protocol_version: 'v2', timeout: 1000 },
    'us-east-1',
  );
  t.same(source.provider.fresh(), { accessKeyId: 'AKIDROUTE', secretAccessKey: 'route-secret' }, 'route keys are always at hand');
  t.same(await source.provider(), { accessKeyId: 'AKIDROUTE', secretAccessKey: 'route-secret' });
});
