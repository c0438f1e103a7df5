// Response streaming in `lambda-extproc dev`: the local Lambda runtime runs
// streaming handlers as Lambda's Node runtime does (awslambda.streamifyResponse,
// HttpResponseStream.from) and serves InvokeWithResponseStream in AWS's
// event-stream framing; the front door announces FULL_DUPLEX_STREAMED and
// writes streamed answers to the HTTP client as they come.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { startApp, type RunningApp } from '../../src/app';
import { formatProblems, parseConfig } from '../../src/config/load';
import { startFrontDoor, type FrontDoor } from '../../src/dev/front-door';
import type { LocalFunction } from '../../src/dev/handler-host';
import { startLocalRuntime, type LocalRuntime } from '../../src/dev/local-runtime';
import { createLogger } from '../../src/observability/logger';
import { createEnvoyStreamClient, type EnvoyStreamClient } from '../envoy-stream-client';
import { startCli } from '../support/cli';

// The compiled child, as `dev` runs it (npm run build first, as for the CLI tests).
const CHILD = join(__dirname, '..', '..', 'dist', 'dev', 'handler-child.js');

// The handler waits for a file the client writes when it has the first chunk: order by cause, not time.
const HANDLERS: Record<string, string> = {
  'ab.mjs': `
import { existsSync } from 'node:fs';
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.setContentType('text/plain');
  stream.write('a');
  while (!existsSync(process.env.MARKER)) await new Promise((r) => setTimeout(r, 10));
  stream.write('b');
  stream.end();
});`,
  'prelude.mjs': `
export const handler = awslambda.streamifyResponse(async (event, responseStream) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, { statusCode: 201, headers: { 'content-type': 'text/event-stream', 'x-from': 'prelude' }, cookies: ['a=1', 'b=2'] });
  stream.write('data: 1\\n\\n');
  stream.end();
});`,
  'midfail.mjs': `
export const handler = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('partial');
  await new Promise((r) => setTimeout(r, 20));
  throw new Error('boom mid-stream');
});`,
  'earlyfail.mjs': `
export const handler = awslambda.streamifyResponse(async () => {
  throw new TypeError('boom before writing');
});`,
  'plain.mjs': `export const handler = async () => ({ plain: true });`,
};

interface Rig {
  readonly app: RunningApp;
  readonly runtime: LocalRuntime;
  readonly client: EnvoyStreamClient;
  readonly marker: string;
  readonly lines: string[];
}

async function rig(t: Test): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-stream-dev-'));
  for (const [file, text] of Object.entries(HANDLERS)) writeFileSync(join(dir, file), text);
  const marker = join(dir, 'client-has-a');
  const lines: string[] = [];
  const fn = (name: string, file: string): LocalFunction => ({ name, file: join(dir, file), timeoutMs: 10_000, memorySizeMb: 128, environment: { MARKER: marker } });
  const runtime = await startLocalRuntime({
    listen: '127.0.0.1:0',
    functions: [fn('ab', 'ab.mjs'), fn('prelude', 'prelude.mjs'), fn('midfail', 'midfail.mjs'), fn('earlyfail', 'earlyfail.mjs'), fn('plain', 'plain.mjs')],
    onLine: (name, line) => lines.push(`[${name}] ${line}`),
    childScript: CHILD,
  });
  const route = (name: string, extra = 'invoke_mode: RESPONSE_STREAM') =>
    `  - name: ${name}\n    match: { path: /${name} }\n    function_name: ${name.replace(/-buffered$/, '')}\n    host: 127.0.0.1\n    port: ${runtime.port}\n    disable_https: true\n    ${extra}\n`;
  const loaded = parseConfig(
    `envoy_message_timeout: 200\ndefaults:\n  aws_region: us-east-1\n  aws_key: AKIDDEVSTREAM0000001\n  aws_secret: not-checked\n  timeout: 10000\nroutes:\n${route('ab')}${route('prelude', 'invoke_mode: RESPONSE_STREAM\n    is_proxy_integration: true')}${route('midfail')}${route('earlyfail')}${route('plain')}${route('ab-buffered', 'invoke_mode: BUFFERED')}`,
    {},
  );
  if (!loaded.ok) throw new Error(formatProblems(loaded.problems));
  const app = await startApp({ ...loaded.config, listen: '127.0.0.1:0' }, { env: {}, logger: createLogger('silent') });
  const client = createEnvoyStreamClient(`127.0.0.1:${app.port}`);
  t.teardown(async () => {
    client.close();
    await app.stop(1000);
    await runtime.close();
  });
  return { app, runtime, client, marker, lines };
}

t.test('the local runtime streams a streamifyResponse handler through the sidecar', async (t) => {
  const r = await rig(t);

  t.test('each write is a chunk the client has before the function writes the next', async (t) => {
    const reply = await r.client.exchange({
      path: '/ab',
      onChunk: (_index, chunk) => {
        if (chunk.toString() === 'a') writeFileSync(r.marker, '');
      },
    });
    t.equal(reply.outcome, 'streamed', `streamed (grpc ${reply.grpcCode} ${reply.grpcDetails})`);
    t.equal(reply.status, 200);
    t.same(reply.headerValues('content-type'), ['text/plain'], "the stream's content type (setContentType)");
    t.same(reply.chunks.map((c) => c.bytes.toString()), ['a', 'b', ''], 'the function wrote "b" only once the client had "a"');
    t.equal(reply.headerValues('x-amz-executed-version')[0], '$LATEST');
  });

  t.test('HttpResponseStream.from: status, headers and cookies from the prelude', async (t) => {
    const reply = await r.client.exchange({ path: '/prelude' });
    t.equal(reply.outcome, 'streamed');
    t.equal(reply.status, 201);
    t.same(reply.headerValues('content-type'), ['text/event-stream']);
    t.same(reply.headerValues('x-from'), ['prelude']);
    t.same(reply.headerValues('set-cookie'), ['a=1', 'b=2']);
    t.equal(reply.body.toString(), 'data: 1\n\n');
  });

  t.test('a handler that throws after writing: InvokeComplete with ErrorCode, the response cut', async (t) => {
    const reply = await r.client.exchange({ path: '/midfail' });
    t.equal(reply.outcome, 'reset');
    t.equal(reply.body.toString(), 'partial');
    t.equal(reply.grpcCode, 14);
    t.match(reply.grpcDetails, /\(function_error\)/);
  });

  t.test('a handler that throws before writing: the buffered answer to a function error', async (t) => {
    const reply = await r.client.exchange({ path: '/earlyfail' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.status, 200);
    t.match(JSON.parse(reply.body.toString()), { errorType: 'TypeError', errorMessage: 'boom before writing' });
  });

  t.test('a handler that does not stream: its result as one chunk', async (t) => {
    const reply = await r.client.exchange({ path: '/plain' });
    t.equal(reply.outcome, 'streamed');
    t.same(JSON.parse(reply.body.toString()), { plain: true });
    t.same(reply.headerValues('content-type'), ['application/json']);
  });

  t.test('a streaming handler called with Invoke (a buffered route): its writes collected into one answer', async (t) => {
    writeFileSync(r.marker, '');
    const reply = await r.client.exchange({ path: '/ab-buffered', announce: 'absent' });
    t.equal(reply.outcome, 'immediate');
    t.equal(reply.body.toString(), 'ab');
  });
});

interface HttpChunks {
  readonly status: number;
  readonly headers: IncomingMessage['headers'];
  readonly chunks: string[];
  readonly complete: boolean;
}

// As `curl -N`: each body chunk as it arrives; `complete` is false when the response was cut.
function curlN(port: number, path: string, onData: (text: string) => void = () => undefined): Promise<HttpChunks> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: string[] = [];
      let settled = false;
      const done = (complete: boolean): void => {
        if (settled) return;
        settled = true;
        resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks, complete });
      };
      res.on('data', (chunk: Buffer) => {
        chunks.push(chunk.toString());
        onData(chunk.toString());
      });
      res.on('end', () => done(res.complete));
      res.on('aborted', () => done(false));
      res.on('error', () => done(false));
      res.on('close', () => done(res.complete));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('the dev front door writes a streamed answer to the HTTP client as it comes', async (t) => {
  const r = await rig(t);
  const door: FrontDoor = await startFrontDoor({ listen: '127.0.0.1:0', extproc: `127.0.0.1:${r.app.port}`, maxBodyBytes: 1024 * 1024 });
  t.teardown(() => door.close());

  const ab = await curlN(door.port, '/ab', (text) => {
    if (text === 'a') writeFileSync(r.marker, '');
  });
  t.equal(ab.status, 200);
  t.equal(ab.headers['transfer-encoding'], 'chunked', 'no Content-Length: the length is not known when the headers go out');
  t.same(ab.chunks, ['a', 'b'], 'the HTTP client had "a" before the function wrote "b"');
  t.ok(ab.complete, 'ended with the final chunk');
  t.ok(existsSync(r.marker));

  const prelude = await curlN(door.port, '/prelude');
  t.equal(prelude.status, 201);
  t.equal(prelude.headers['content-type'], 'text/event-stream');
  t.same(prelude.headers['set-cookie'], ['a=1', 'b=2']);
  t.equal(prelude.chunks.join(''), 'data: 1\n\n');

  const cut = await curlN(door.port, '/midfail');
  t.equal(cut.status, 200, 'the headers had gone out');
  t.equal(cut.chunks.join(''), 'partial');
  t.notOk(cut.complete, 'cut: no final chunk, as Envoy resets the response');

  const early = await curlN(door.port, '/earlyfail');
  t.equal(early.status, 200);
  t.ok(early.complete);
  t.match(early.chunks.join(''), /boom before writing/);

  const none = await curlN(door.port, '/nowhere');
  t.equal(none.status, 404, 'no route: still 404 with FULL_DUPLEX_STREAMED announced');
});

t.test('dev --config config/example.yaml: curl -N /stream shows each line as the example function writes it', async (t) => {
  const cli = await startCli(['dev', '--config', join(__dirname, '..', '..', 'config', 'example.yaml'), '--http', '0', '--lambda', '0', '--listen', '0'], { AWS_ENDPOINT_URL_LAMBDA: 'http://127.0.0.1:9' });
  t.teardown(() => cli.stop('SIGKILL'));
  let port = 0;
  for (let i = 0; i < 400 && port === 0; i++) {
    const found = /"port":(\d+)[^\n]*dev front door listening/.exec(cli.output());
    if (found !== null) port = Number(found[1]);
    else await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.ok(port > 0, 'front door listening line');
  const arrivals: number[] = [];
  const answer = await curlN(port, '/stream?lines=2', () => arrivals.push(Date.now()));
  t.equal(answer.status, 200);
  t.equal(answer.headers['x-handled-by'], 'examples/functions/stream.mjs', 'headers from HttpResponseStream.from');
  t.equal(answer.headers['content-type'], 'text/plain; charset=utf-8');
  t.same(answer.chunks, ['line 1 of 2 from stream\n', 'line 2 of 2 from stream\n'], 'one chunk per write, the query read from the API Gateway event');
  t.ok(answer.complete);
  t.comment(`the second line came ${(arrivals[1] ?? 0) - (arrivals[0] ?? 0)} ms after the first (the function waits 1 s between writes)`);
});
