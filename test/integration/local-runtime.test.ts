// The local Lambda runtime of `lambda-extproc dev`: Lambda's Invoke API on
// 127.0.0.1, handler files run in child processes, and the sidecar calling it
// through the real ext_proc + SigV4 + invoke path.
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startApp } from '../../src/app';
import { parseConfig, formatProblems } from '../../src/config/load';
import type { LocalFunction } from '../../src/dev/handler-host';
import { startLocalRuntime, type LocalRuntime } from '../../src/dev/local-runtime';
import { createInvokeSigner } from '../../src/lambda/sigv4';
import { createLogger } from '../../src/observability/logger';
import { createEnvoyClient } from '../envoy-client';

// The compiled child, as `dev` runs it (npm run build first, as for the CLI tests): a TypeScript
// loader in every handler process would cost seconds per start.
const CHILD = join(__dirname, '..', '..', 'dist', 'dev', 'handler-child.js');
const KEY = 'AKIDLOCALRUNTIMETEST';
const REGION = 'eu-west-1';

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  json(): Record<string, unknown>;
}

interface InvokeOptions {
  readonly payload?: string;
  readonly qualifier?: string;
  readonly invocationType?: string;
  readonly logType?: string;
  readonly headers?: Record<string, string>;
  /** Drop the Authorization header, or replace it. */
  readonly authorization?: string | null;
  readonly hostHeader?: string;
}

/** A signed Invoke request, as the sidecar's lean invoke path sends it. */
async function invoke(port: number, functionName: string, options: InvokeOptions = {}): Promise<Answer> {
  const path = `/2015-03-31/functions/${encodeURIComponent(functionName)}/invocations`;
  const sign = createInvokeSigner({
    credentials: async () => ({ accessKeyId: KEY, secretAccessKey: 'not-checked' }),
    region: REGION,
    host: `127.0.0.1:${port}`,
    path,
    qualifier: options.qualifier,
    invocationType: options.invocationType ?? 'RequestResponse',
    logType: options.logType ?? 'None',
  });
  const body = Buffer.from(options.payload ?? '{}');
  const headers: Record<string, string> = { ...(await sign(body)), ...(options.headers ?? {}) };
  if (options.authorization === null) delete headers.authorization;
  else if (options.authorization !== undefined) headers.authorization = options.authorization;
  if (options.hostHeader !== undefined) headers.host = options.hostHeader;
  const query = options.qualifier === undefined ? '' : `?Qualifier=${encodeURIComponent(options.qualifier)}`;
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: `${path}${query}`, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json: () => JSON.parse(text) as Record<string, unknown> });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const HANDLERS: Record<string, string> = {
  'hello.mjs': `export const handler = async () => ({ message: 'hello' });\n`,
  'esm-js/package.json': `{ "type": "module" }\n`,
  'esm-js/index.js': `export const handler = async (event) => ({ style: 'esm .js', got: event });\n`,
  'cjs.cjs': `exports.handler = async (event) => ({ style: 'cjs', got: event });\n`,
  'callback.cjs': `exports.handler = (event, context, callback) => { setTimeout(() => callback(null, { style: 'callback' }), 10); };\n`,
  'context.mjs': `export const handler = async (event, context) => {
  const { getRemainingTimeInMillis, done, succeed, fail, ...fields } = context;
  return { ...fields, remaining: getRemainingTimeInMillis(), env: { name: process.env.AWS_LAMBDA_FUNCTION_NAME, region: process.env.AWS_REGION, memory: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE, secret: process.env.SIDECAR_SECRET ?? null, custom: process.env.GREETING } };
};\n`,
  'throws.mjs': `export const handler = async () => { class PaymentError extends Error { name = 'PaymentError'; } throw new PaymentError('card declined'); };\n`,
  // One function that misbehaves on request; `pid` tells whether a fresh process answered.
  'trouble.mjs': `let calls = 0;
export const handler = async (event) => {
  calls += 1;
  const action = event.action ?? String(event.request_uri ?? '').split('/').pop();
  if (action === 'hang') await new Promise(() => {});
  if (action === 'spin') for (;;) {}
  if (action === 'exit') process.exit(3);
  if (action === 'heap') { const hog = []; for (;;) hog.push(new Array(1e6).fill(hog.length)); }
  if (action === 'throw-later') { setTimeout(() => { throw new Error('late'); }, 0); await new Promise(() => {}); }
  return { pid: process.pid, calls };
};\n`,
  'noisy.mjs': `export const handler = async (event) => { console.log('first line'); for (let i = 0; i < 200; i++) console.log('line ' + i + ' ' + 'x'.repeat(40)); console.error('last line'); return 'ok'; };\n`,
  'big.mjs': `export const handler = async () => 'x'.repeat(6_291_556);\n`,
  'no-export.mjs': `export const notTheHandler = async () => 1;\n`,
  'syntax.mjs': `export const handler = async () => { return {; };\n`,
  'event.mjs': `import { appendFileSync } from 'node:fs';
export const handler = async (event) => { appendFileSync(process.env.MARK_FILE, JSON.stringify(event) + '\\n'); return 'done'; };\n`,
};

function writeHandlers(): string {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-local-'));
  for (const [name, text] of Object.entries(HANDLERS)) {
    const file = join(dir, name);
    mkdirSync(join(file, '..'), { recursive: true });
    writeFileSync(file, text);
  }
  return dir;
}

interface Started {
  readonly runtime: LocalRuntime;
  readonly dir: string;
  readonly lines: Array<[string, string]>;
}

async function startRuntime(t: Test, extra: Partial<Record<string, Partial<LocalFunction>>> = {}): Promise<Started> {
  const dir = writeHandlers();
  const fn = (name: string, file: string, more: Partial<LocalFunction> = {}): LocalFunction => ({ name, file: join(dir, file), timeoutMs: 3000, memorySizeMb: 128, environment: {}, ...more, ...(extra[name] ?? {}) });
  const lines: Array<[string, string]> = [];
  const runtime = await startLocalRuntime({
    listen: '127.0.0.1:0',
    functions: [
      fn('hello', 'hello.mjs'),
      fn('esm-js', 'esm-js/index.js'),
      fn('cjs', 'cjs.cjs'),
      fn('callback', 'callback.cjs'),
      fn('context', 'context.mjs', { memorySizeMb: 256, environment: { GREETING: 'hi' } }),
      fn('throws', 'throws.mjs'),
      fn('trouble', 'trouble.mjs', { timeoutMs: 1000 }),
      // Filling 128 MB of heap can take seconds on a busy machine: the crash, not the timeout, must end it.
      fn('hog', 'trouble.mjs', { timeoutMs: 60_000 }),
      fn('noisy', 'noisy.mjs'),
      fn('big', 'big.mjs'),
      fn('no-export', 'no-export.mjs'),
      fn('syntax', 'syntax.mjs'),
      fn('event', 'event.mjs', { environment: { MARK_FILE: join(dir, 'events.log') } }),
    ],
    onLine: (name, line) => lines.push([name, line]),
    childScript: CHILD,
  });
  t.teardown(() => runtime.close());
  return { runtime, dir, lines };
}

t.test('answers an ES module handler with its JSON output and the headers Lambda sends', async (t) => {
  const { runtime, lines } = await startRuntime(t);
  const answer = await invoke(runtime.port, 'hello');
  t.equal(answer.status, 200);
  t.equal(answer.body, '{"message":"hello"}');
  t.equal(answer.headers['content-type'], 'application/json');
  t.match(answer.headers['x-amzn-requestid'], /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  t.equal(answer.headers['x-amz-executed-version'], '$LATEST');
  t.match(answer.headers['x-amzn-trace-id'], /^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Sampled=0$/);
  t.equal(answer.headers['x-amz-function-error'], undefined, 'no function error on success');
  t.equal(answer.headers['x-amz-log-result'], undefined, 'no logs unless Tail');
  const id = String(answer.headers['x-amzn-requestid']);
  t.same(
    lines.filter(([name]) => name === 'hello').map(([, line]) => line.split('\t')[0]),
    [`START RequestId: ${id} Version: $LATEST`, `END RequestId: ${id}`, `REPORT RequestId: ${id}`],
    'START, END and REPORT lines for the terminal',
  );
});

t.test('runs ES module .js (type module), CommonJS exports.handler and callback-style handlers', async (t) => {
  const { runtime } = await startRuntime(t);
  const esm = await invoke(runtime.port, 'esm-js', { payload: '{"a":1}' });
  t.same(esm.json(), { style: 'esm .js', got: { a: 1 } });
  const cjs = await invoke(runtime.port, 'cjs', { payload: '[1,2]' });
  t.same(cjs.json(), { style: 'cjs', got: [1, 2] });
  const callback = await invoke(runtime.port, 'callback');
  t.same(callback.json(), { style: 'callback' });
  const empty = await invoke(runtime.port, 'cjs', { payload: '' });
  t.same(empty.json(), { style: 'cjs', got: {} }, 'an empty payload is the event {}');
});

t.test("gives the handler Lambda's context and environment, and none of the sidecar's variables", async (t) => {
  process.env.SIDECAR_SECRET = 'must-not-leak';
  t.teardown(() => delete process.env.SIDECAR_SECRET);
  const { runtime } = await startRuntime(t);
  const clientContext = Buffer.from(JSON.stringify({ custom: { app: 'x' } })).toString('base64');
  const answer = await invoke(runtime.port, 'context', { qualifier: 'live', headers: { 'x-amz-client-context': clientContext } });
  t.equal(answer.status, 200);
  const context = answer.json();
  t.match(context, {
    functionName: 'context',
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${REGION}:000000000000:function:context:live`,
    memoryLimitInMB: '256',
    awsRequestId: answer.headers['x-amzn-requestid'],
    logGroupName: '/aws/lambda/context',
    callbackWaitsForEmptyEventLoop: true,
    clientContext: { custom: { app: 'x' } },
    env: { name: 'context', region: REGION, memory: '256', secret: null, custom: 'hi' },
  });
  t.match(context.logStreamName, /^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
  t.ok(Number(context.remaining) > 0 && Number(context.remaining) <= 3000, `getRemainingTimeInMillis() within the 3 s timeout (${String(context.remaining)})`);
});

t.test("a thrown error: 200 with X-Amz-Function-Error Unhandled and Lambda's errorType/errorMessage/trace", async (t) => {
  const { runtime } = await startRuntime(t);
  const answer = await invoke(runtime.port, 'throws');
  t.equal(answer.status, 200);
  t.equal(answer.headers['x-amz-function-error'], 'Unhandled');
  const body = answer.json();
  t.equal(body.errorType, 'PaymentError');
  t.equal(body.errorMessage, 'card declined');
  t.ok(Array.isArray(body.trace) && String((body.trace as string[])[0]).startsWith('PaymentError: card declined'), 'trace: the stack as lines');
});

t.test('a handler that runs past its timeout: Sandbox.Timedout, Unhandled, and the next invocation runs in a fresh process', async (t) => {
  const { runtime } = await startRuntime(t);
  const before = (await invoke(runtime.port, 'trouble', { payload: '{"action":"ok"}' })).json();
  for (const action of ['hang', 'spin']) {
    const answer = await invoke(runtime.port, 'trouble', { payload: JSON.stringify({ action }) });
    t.equal(answer.status, 200, action);
    t.equal(answer.headers['x-amz-function-error'], 'Unhandled', action);
    t.same(answer.json(), { errorType: 'Sandbox.Timedout', errorMessage: `RequestId: ${String(answer.headers['x-amzn-requestid'])} Error: Task timed out after 1.00 seconds` }, action);
    const after = (await invoke(runtime.port, 'trouble', { payload: '{"action":"ok"}' })).json();
    t.not(after.pid, before.pid, `${action}: a new process`);
    t.equal(after.calls, 1, `${action}: module state starts afresh, as in a new execution environment`);
  }
});

t.test('a handler that exits, fills its heap or throws outside the invocation: Runtime errors, and the next invocation works', async (t) => {
  const { runtime, lines } = await startRuntime(t);
  const exit = await invoke(runtime.port, 'trouble', { payload: '{"action":"exit"}' });
  t.equal(exit.headers['x-amz-function-error'], 'Unhandled');
  t.same(exit.json(), { errorType: 'Runtime.ExitError', errorMessage: `RequestId: ${String(exit.headers['x-amzn-requestid'])} Error: Runtime exited with error: exit status 3` });
  t.equal((await invoke(runtime.port, 'trouble', { payload: '{"action":"ok"}' })).json().calls, 1, 'after exit');

  const late = await invoke(runtime.port, 'trouble', { payload: '{"action":"throw-later"}' });
  t.equal(late.headers['x-amz-function-error'], 'Unhandled');
  t.match(late.json(), { errorType: 'Error', errorMessage: 'late' });
  t.equal((await invoke(runtime.port, 'trouble', { payload: '{"action":"ok"}' })).json().calls, 1, 'after an uncaught exception');

  const heap = await invoke(runtime.port, 'hog', { payload: '{"action":"heap"}' });
  t.equal(heap.headers['x-amz-function-error'], 'Unhandled');
  t.match(heap.json(), { errorType: 'Runtime.ExitError', errorMessage: /Runtime exited with error: (signal: SIGABRT|exit status 134)$/ });
  t.ok(lines.some(([name, line]) => name === 'hog' && /heap out of memory/.test(line)), "V8's out-of-memory report reaches the terminal");
  t.equal((await invoke(runtime.port, 'hog', { payload: '{"action":"ok"}' })).json().calls, 1, 'after running out of heap');
});

t.test('a handler file that cannot be loaded: Runtime.HandlerNotFound / Runtime.UserCodeSyntaxError, Unhandled', async (t) => {
  const { runtime } = await startRuntime(t);
  const missing = await invoke(runtime.port, 'no-export');
  t.equal(missing.status, 200);
  t.equal(missing.headers['x-amz-function-error'], 'Unhandled');
  t.match(missing.json(), { errorType: 'Runtime.HandlerNotFound', errorMessage: /does not export a function named "handler"/ });
  const syntax = await invoke(runtime.port, 'syntax');
  t.equal(syntax.headers['x-amz-function-error'], 'Unhandled');
  t.match(syntax.json(), { errorType: 'Runtime.UserCodeSyntaxError', errorMessage: /^SyntaxError: / });
});

t.test('a changed handler file is loaded afresh on the next invocation', async (t) => {
  const { runtime, dir } = await startRuntime(t);
  t.equal((await invoke(runtime.port, 'hello')).body, '{"message":"hello"}');
  writeFileSync(join(dir, 'hello.mjs'), `export const handler = async () => ({ message: 'edited' });\n`);
  // A distinct mtime even on a file system with coarse time stamps.
  utimesSync(join(dir, 'hello.mjs'), new Date(), new Date(Date.now() + 5000));
  t.equal((await invoke(runtime.port, 'hello')).body, '{"message":"edited"}');
});

t.test('invocation types: Event answers 202 and runs in the background, DryRun answers 204 and runs nothing', async (t) => {
  const { runtime, dir, lines } = await startRuntime(t);
  const dry = await invoke(runtime.port, 'event', { invocationType: 'DryRun', payload: '{"n":0}' });
  t.equal(dry.status, 204);
  t.equal(dry.body, '');
  const event = await invoke(runtime.port, 'event', { invocationType: 'Event', payload: '{"n":1}' });
  t.equal(event.status, 202);
  t.equal(event.body, '');
  t.match(event.headers['x-amzn-requestid'], /^[0-9a-f-]{36}$/);
  // The synchronous call queues behind the event on the same function, so when it answers the event has run.
  const sync = await invoke(runtime.port, 'event', { payload: '{"n":2}' });
  t.equal(sync.body, '"done"');
  t.equal(readFileSync(join(dir, 'events.log'), 'utf8'), '{"n":1}\n{"n":2}\n', 'the Event ran, then the RequestResponse; the DryRun did not');
  t.equal(lines.filter(([, line]) => line.startsWith('START')).length, 2);
});

t.test('Tail: X-Amz-Log-Result carries the last 4 KB of the invocation log, base64', async (t) => {
  const { runtime } = await startRuntime(t);
  const short = await invoke(runtime.port, 'hello', { logType: 'Tail' });
  const id = String(short.headers['x-amzn-requestid']);
  const log = Buffer.from(String(short.headers['x-amz-log-result']), 'base64').toString('utf8');
  t.match(log, new RegExp(`^START RequestId: ${id} Version: \\$LATEST\\nEND RequestId: ${id}\\nREPORT RequestId: ${id}\\tDuration: [\\d.]+ ms`));
  const noisy = await invoke(runtime.port, 'noisy', { logType: 'Tail' });
  const tail = Buffer.from(String(noisy.headers['x-amz-log-result']), 'base64');
  t.equal(tail.length, 4096, 'cut to 4 KB');
  t.notMatch(tail.toString('utf8'), /first line/, 'the start is cut off');
  t.match(tail.toString('utf8'), new RegExp(`\\tERROR\\tlast line\\nEND RequestId: ${String(noisy.headers['x-amzn-requestid'])}\\nREPORT`), 'console lines in Lambda format, then END and REPORT');
});

t.test("errors of Lambda's API: unknown function 404, bad invocation type 400, non-JSON payload 400", async (t) => {
  const { runtime } = await startRuntime(t);
  const unknown = await invoke(runtime.port, 'nope');
  t.equal(unknown.status, 404);
  t.equal(unknown.headers['x-amzn-errortype'], 'ResourceNotFoundException');
  t.equal(unknown.headers['content-type'], 'application/json');
  t.same(unknown.json(), { Type: 'User', message: `Function not found: arn:aws:lambda:${REGION}:000000000000:function:nope` });
  const byArn = await invoke(runtime.port, `arn:aws:lambda:${REGION}:000000000000:function:hello`);
  t.equal(byArn.body, '{"message":"hello"}', 'a full ARN names the function too');
  const badType = await invoke(runtime.port, 'hello', { invocationType: 'Sometimes' });
  t.equal(badType.status, 400);
  t.equal(badType.headers['x-amzn-errortype'], 'ValidationException');
  const notJson = await invoke(runtime.port, 'hello', { payload: 'not json' });
  t.equal(notJson.status, 400);
  t.equal(notJson.headers['x-amzn-errortype'], 'InvalidRequestContentException');
});

t.test('requires a SigV4 Authorization header for lambda (unchecked, as AWS’s emulator) and a loopback Host', async (t) => {
  const { runtime, lines } = await startRuntime(t);
  const unsigned = await invoke(runtime.port, 'hello', { authorization: null });
  t.equal(unsigned.status, 403);
  t.equal(unsigned.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
  const wrongService = await invoke(runtime.port, 'hello', { authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/20261201/${REGION}/s3/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` });
  t.equal(wrongService.status, 403);
  t.equal(wrongService.headers['x-amzn-errortype'], 'InvalidSignatureException');
  const garbled = await invoke(runtime.port, 'hello', { authorization: 'Bearer x' });
  t.equal(garbled.status, 403);
  t.equal(garbled.headers['x-amzn-errortype'], 'IncompleteSignatureException');
  const anySignature = await invoke(runtime.port, 'hello', { authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/20261201/${REGION}/lambda/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}` });
  t.equal(anySignature.status, 200, 'the signature itself is not verified');
  const rebound = await invoke(runtime.port, 'hello', { hostHeader: 'evil.example:80' });
  t.equal(rebound.status, 403, 'a non-loopback Host header (DNS rebinding) is refused');
  t.equal(lines.filter(([, line]) => line.startsWith('START')).length, 1, 'only the accepted request ran the handler');
});

t.test('listens on 127.0.0.1 only: any other address is refused before binding', async (t) => {
  for (const listen of ['0.0.0.0:0', '[::]:0', '[::1]:0', 'localhost:0', '192.168.1.10:9000', '127.0.0.2:0', '127.0.0.1:70000']) {
    await t.rejects(startLocalRuntime({ listen, functions: [], onLine: () => undefined }), /listens on 127\.0\.0\.1:PORT only/, listen);
  }
  const runtime = await startLocalRuntime({ listen: '127.0.0.1:0', functions: [], onLine: () => undefined });
  t.teardown(() => runtime.close());
  t.ok(runtime.port > 0);
  const bad = parseConfig('routes:\n  - { name: a, function_name: f }\nlocal_lambda:\n  listen: 0.0.0.0:9000\n  functions:\n    f: { handler: f.mjs }\n', {});
  t.equal(bad.ok, false, 'the config refuses a non-loopback local_lambda.listen');
  if (!bad.ok) t.match(formatProblems(bad.problems), /local_lambda\.listen: must be 127\.0\.0\.1:PORT/);
});

t.test('the sidecar keeps answering while handlers throw, hang, exit and fill their heap', async (t) => {
  const { runtime } = await startRuntime(t);
  const text = `listen: 127.0.0.1:0
defaults:
  aws_region: us-east-1
  host: 127.0.0.1
  port: ${runtime.port}
  disable_https: true
  aws_key: ${KEY}
  aws_secret: not-checked
  timeout: 10000
routes:
  - { name: hello, match: { path: /hello }, function_name: hello }
  - { name: trouble, match: { path_prefix: /trouble/ }, function_name: trouble, forward_request_uri: true }
  - { name: hog, match: { path_prefix: /hog/ }, function_name: hog, forward_request_uri: true, timeout: 90000 }
  - { name: throws, match: { path: /throws }, function_name: throws, unhandled_status: 502 }
`;
  const loaded = parseConfig(text, {});
  if (!loaded.ok) throw new Error(formatProblems(loaded.problems));
  const app = await startApp(loaded.config, { env: {}, logger: createLogger('silent') });
  const envoy = createEnvoyClient(`127.0.0.1:${app.port}`);
  t.teardown(async () => {
    envoy.close();
    await app.stop(1000);
  });
  const hello = async (when: string): Promise<void> => {
    const answer = await envoy.send({ path: '/hello', messageTimeoutMs: 30_000 });
    t.equal(answer.status, 200, `/hello ${when}`);
    t.equal(answer.body.toString(), '{"message":"hello"}', `/hello ${when}`);
  };
  await hello('first');
  const thrown = await envoy.send({ path: '/throws', messageTimeoutMs: 30_000 });
  t.equal(thrown.status, 502, 'unhandled_status applies to the local runtime’s Unhandled error');
  t.equal(thrown.header('x-amz-function-error'), 'Unhandled');
  t.match(thrown.json(), { errorType: 'PaymentError', errorMessage: 'card declined' });
  await hello('after a throw');
  for (const action of ['hang', 'exit', 'heap']) {
    const fnName = action === 'heap' ? 'hog' : 'trouble';
    const answer = await envoy.send({ path: `/${fnName}/${action}`, messageTimeoutMs: 90_000 });
    t.equal(answer.status, 200, action);
    t.equal(answer.header('x-amz-function-error'), 'Unhandled', action);
    t.match(answer.json(), { errorType: action === 'hang' ? 'Sandbox.Timedout' : 'Runtime.ExitError' }, action);
    await hello(`after ${action}`);
    const again = await envoy.send({ path: `/${fnName}/ok`, messageTimeoutMs: 30_000 });
    t.equal(again.status, 200, `${fnName} answers again after ${action}`);
    t.equal((again.json() as { calls: number }).calls, 1, `a fresh process after ${action}`);
  }
});

t.test("Lambda's limits: 413 over 6 MiB of payload (1 MiB for Event), Function.ResponseSizeTooLarge over 6291556 bytes of output, 400 for a client context that is not base64 JSON, 429 past 100 waiting invocations", async (t) => {
  const { runtime } = await startRuntime(t);
  const big = `"${'x'.repeat(6 * 1024 * 1024 - 2)}"`;
  t.equal((await invoke(runtime.port, 'cjs', { payload: big })).json().style, 'cjs', 'exactly 6 MiB is accepted');
  const over = await invoke(runtime.port, 'cjs', { payload: `${big} ` });
  t.equal(over.status, 413);
  t.equal(over.headers['x-amzn-errortype'], 'RequestEntityTooLargeException');
  const overEvent = await invoke(runtime.port, 'cjs', { invocationType: 'Event', payload: `"${'x'.repeat(1024 * 1024)}"` });
  t.equal(overEvent.status, 413, 'Event: over 1 MiB');
  const output = await invoke(runtime.port, 'big');
  t.equal(output.status, 200);
  t.equal(output.headers['x-amz-function-error'], 'Unhandled');
  t.same(output.json(), { errorType: 'Function.ResponseSizeTooLarge', errorMessage: 'Response payload size exceeded maximum allowed payload size (6291556 bytes).' });
  const context = await invoke(runtime.port, 'hello', { headers: { 'x-amz-client-context': Buffer.from('not json').toString('base64') } });
  t.equal(context.status, 400);
  t.equal(context.headers['x-amzn-errortype'], 'InvalidRequestContentException');
  // One invocation runs (and hangs), 99 wait: the 101st is refused.
  for (let i = 0; i < 100; i++) t.equal((await invoke(runtime.port, 'trouble', { invocationType: 'Event', payload: '{"action":"hang"}' })).status, 202, `event ${i}`);
  const refused = await invoke(runtime.port, 'trouble', { invocationType: 'Event', payload: '{"action":"hang"}' });
  t.equal(refused.status, 429);
  t.equal(refused.headers['x-amzn-errortype'], 'TooManyRequestsException');
  t.match(refused.json(), { message: 'Rate Exceeded.', Reason: 'ConcurrentInvocationLimitExceeded' });
});
