import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { batchLines, SHARED_WRITE_BYTES, type LineDestination } from '../../src/observability/line-batch';
import { createLogger } from '../../src/observability/logger';
import { createRequestLog, LOG_VALUE_MAX_CHARS, type RequestLogRecord } from '../../src/observability/request-log';

const capture = (): { stream: Writable; lines: () => string[] } => {
  let out = '';
  const stream = new Writable({ write: (chunk: Buffer, _e, cb) => ((out += chunk.toString()), cb()) });
  return { stream, lines: () => out.split('\n').filter((line) => line !== '') };
};
const withoutTime = (line: string): string => line.replace(/"time":"[^"]*"/, '"time":"T"');

const records: RequestLogRecord[] = [
  { route: 'orders', functionName: 'orders-fn', method: 'POST', path: '/orders/7?x=1', status: 200, latencyMs: 1.25, requestId: 'r-1', lambdaRequestId: 'l-1', traceId: 'Root=1-a' },
  { route: 'orders', functionName: 'arn:aws:lambda:us-east-1:123456789012:function:f', method: 'GET', path: '/', status: 204, latencyMs: 0, requestId: 'r-2' },
  { route: 'busy', functionName: 'busy-fn', method: 'GET', path: '/busy', status: 429, latencyMs: 3.5, requestId: 'r-3', error: { kind: 'lambda_throttled', message: 'Rate exceeded', details: { awsCode: 'TooManyRequestsException' } } },
  { route: 'down', functionName: 'down-fn', method: 'PUT', path: '/down', status: 502, latencyMs: 12.125, requestId: 'r-4', lambdaRequestId: 'l-4', error: { kind: 'lambda_unreachable', message: 'connect ECONNREFUSED 127.0.0.1:1', details: {} } },
  { route: 'quotes', functionName: 'q', method: 'GET', path: '/say/"hi"\\\t\u0001é?q="hi"', status: 200, latencyMs: 1e-7, requestId: 'r-5' },
  // Text JSON writes as it is next to text it escapes: a surrogate pair, DEL and U+2028 (not escaped), a backslash, a quote.
  { route: 'emoji-\u{1f600}', functionName: 'f\u2028n', method: 'GET\u007f', path: '/a\u00e9b', status: 200, latencyMs: 2, requestId: 'r\\6', lambdaRequestId: 'l-\u{1f600}', traceId: 'Root=1-"t"' },
  { route: 'cut', functionName: 'f', method: 'GET', path: '/s', status: 599, latencyMs: 1, requestId: 'r-7', streamedBytes: 0, error: { kind: 'lambda_stream_failed', message: 'line\nbreak', details: { awsCode: 'A"B' } } },
];

// What the log shows of a request's own text, written out independently of the code under test.
const cut = (text: string): string => (text.length <= 1024 ? text : `${text.slice(0, 1024)}...[+${text.length - 1024} chars]`);
const withoutQuery = (path: string): string => (path.includes('?') ? path.slice(0, path.indexOf('?')) : path);

// What pino wrote for the request line before it had its own writer: the reference.
const pinoLine = (record: RequestLogRecord, fields: Record<string, unknown>, withQuery = false): string => {
  const { stream, lines } = capture();
  const logger = createLogger('info', stream, fields);
  const { error } = record;
  const failed = error !== undefined && (record.status >= 500 || record.streamedBytes !== undefined);
  logger[failed ? 'error' : 'info'](
    {
      route: cut(record.route),
      function: record.functionName,
      method: cut(record.method),
      path: cut(withQuery ? record.path : withoutQuery(record.path)),
      status: record.status,
      latency_ms: record.latencyMs,
      request_id: cut(record.requestId),
      lambda_request_id: record.lambdaRequestId === undefined ? undefined : cut(record.lambdaRequestId),
      trace_id: record.traceId === undefined ? undefined : cut(record.traceId),
      streamed_bytes: record.streamedBytes,
      ...(error === undefined ? {} : { cause: error.kind, error: cut(error.message), aws_code: error.details.awsCode === undefined ? undefined : cut(error.details.awsCode) }),
    },
    failed ? 'request failed' : 'request',
  );
  return lines()[0] ?? '';
};

t.test('the request line is the line pino writes for the same fields, byte for byte', async (t) => {
  for (const fields of [{}, { worker: 2, pid: 4242 }]) {
    const { stream, lines } = capture();
    const log = createRequestLog(createLogger('info', stream, fields));
    for (const record of records) log.requestDone(record);
    const written = lines();
    t.equal(written.length, records.length, 'one line per request');
    records.forEach((record, index) => {
      const line = written[index] ?? '';
      t.equal(withoutTime(line), withoutTime(pinoLine(record, fields)), `${record.route} ${record.status} ${JSON.stringify(fields)}`);
      t.ok(Number.isFinite(Date.parse((JSON.parse(line) as { time: string }).time)), 'stamped');
    });
  }
});

t.test('the request line keeps its levels: info for answers, error for 5xx failures; the level setting filters it', async (t) => {
  const info = capture();
  createRequestLog(createLogger('warn', info.stream)).requestDone(records[0] as RequestLogRecord);
  t.same(info.lines(), [], 'an info line is not written at warn');
  const error = capture();
  const log = createRequestLog(createLogger('warn', error.stream));
  log.requestDone(records[3] as RequestLogRecord);
  log.requestDone(records[2] as RequestLogRecord);
  const lines = error.lines().map((line) => JSON.parse(line) as Record<string, unknown>);
  t.equal(lines.length, 1, 'the 429 (info) is filtered, the 502 (error) is not');
  t.match(lines[0], { level: 'error', msg: 'request failed', status: 502, cause: 'lambda_unreachable', lambda_request_id: 'l-4' });
  t.notOk('aws_code' in (lines[0] ?? {}), 'no aws_code when AWS sent none');
});

const recording = (): LineDestination & { writes: string[]; flushes: string[] } => {
  const writes: string[] = [];
  const flushes: string[] = [];
  return {
    writes,
    flushes,
    write: (data) => (writes.push(data), true),
    flush: (callback) => (flushes.push('flush'), callback?.()),
    flushSync: () => void flushes.push('flushSync'),
  };
};

// Until `done` holds, checked every 5 ms, for at most 5 s (a busy machine runs timers late).
const until = async (done: () => boolean): Promise<void> => {
  for (let waited = 0; !done() && waited < 5000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
};

t.test('lines wait up to delayMs and reach the destination as one write, in order', async (t) => {
  const destination = recording();
  const batched = batchLines(destination, { delayMs: 300, writeBytes: 65536 });
  const start = Date.now();
  batched.write('a\n');
  await new Promise((resolve) => setImmediate(resolve));
  batched.write('b\n');
  batched.write('c\n');
  if (Date.now() - start < 300) t.same(destination.writes, [], 'nothing written before the delay, turns later');
  await until(() => destination.writes.length > 0);
  t.ok(Date.now() - start >= 290, 'not before the delay');
  t.same(destination.writes, ['a\nb\nc\n'], 'one write after it');
  batched.write('d\n');
  await until(() => destination.writes.length > 1);
  t.same(destination.writes, ['a\nb\nc\n', 'd\n'], 'the next line, the next write');
  batched.write('e\n');
  batched.flushSync();
  t.same(destination.writes.at(-1), 'e\n', 'flushSync writes what waits first');
  batched.write('f\n');
  await new Promise<void>((resolve) => batched.flush(() => resolve()));
  t.same(destination.writes.at(-1), 'f\n', 'so does flush');
  t.same(destination.flushes, ['flushSync', 'flush'], 'then the destination flushes');
  await new Promise((resolve) => setTimeout(resolve, 400));
  t.equal(destination.writes.length, 4, 'nothing is written twice');
});

t.test('a line that would take the waiting lines past writeBytes sends them at once, without waiting for the delay', async (t) => {
  const destination = recording();
  const batched = batchLines(destination, { delayMs: 60_000, writeBytes: 1000 });
  const line = `${'x'.repeat(99)}\n`;
  for (let i = 0; i < 10; i++) batched.write(line);
  t.same(destination.writes, [], '1,000 bytes wait');
  batched.write(line);
  t.same(destination.writes, [line.repeat(10)], 'the eleventh line sends the ten, synchronously');
  batched.flushSync();
  t.same(destination.writes, [line.repeat(10), line], 'and then waits itself');
});

t.test('shared stdout: more than 4 KiB of lines is written in whole lines of at most 4 KiB per write (atomic on a pipe)', async (t) => {
  const destination = recording();
  const batched = batchLines(destination, { delayMs: 60_000, writeBytes: SHARED_WRITE_BYTES });
  const line = (n: number, size: number): string => `${String(n).padStart(4, '0')}${'x'.repeat(size - 5)}\n`;
  const lines = [...Array.from({ length: 30 }, (_, n) => line(n, 300)), line(30, 5000), line(31, 300)];
  for (const text of lines) batched.write(text);
  batched.flushSync();
  t.equal(destination.writes.join(''), lines.join(''), 'every line, in order');
  t.same(
    destination.writes.map((data) => Buffer.byteLength(data)),
    [13 * 300, 13 * 300, 4 * 300, 5000, 300],
    '13 lines, 13 lines, the 4 left, the long line alone, the last',
  );
  t.ok(destination.writes.every((data) => data.endsWith('\n')), 'no write ends inside a line');
});

t.test('a process that exits while lines wait still writes every line to stdout', async (t) => {
  const logger = join(__dirname, '..', '..', 'dist', 'observability', 'logger.js');
  const script = `const { createLogger } = require(${JSON.stringify(logger)}); const log = createLogger('info'); for (let i = 0; i < 500; i++) log.info({ i }, 'line'); process.exit(3);`;
  const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
  t.equal(child.status, 3, child.stderr);
  const lines = child.stdout.split('\n').filter((line) => line !== '');
  t.equal(lines.length, 500, 'all 500 lines');
  t.same(
    lines.map((line) => (JSON.parse(line) as { i: number }).i),
    Array.from({ length: 500 }, (_, i) => i),
    'in order',
  );
});

t.test('the path is logged without its query unless log_query is on: a query may carry a token', async (t) => {
  const record: RequestLogRecord = { route: 'login', functionName: 'login-fn', method: 'GET', path: '/login/cb?token=secret-123&state=x', status: 200, latencyMs: 2, requestId: 'r-q' };
  const plain = capture();
  createRequestLog(createLogger('info', plain.stream)).requestDone(record);
  t.equal(withoutTime(plain.lines()[0] ?? ''), withoutTime(pinoLine(record, {})), "pino's line for the path without its query");
  t.match(JSON.parse(plain.lines()[0] ?? '{}'), { path: '/login/cb' });
  t.notOk(plain.lines().join('\n').includes('secret-123'), 'the token is not in the log');
  let logQuery = true;
  const withQuery = capture();
  const log = createRequestLog(createLogger('info', withQuery.stream), { logQuery: () => logQuery });
  log.requestDone(record);
  logQuery = false;
  log.requestDone(record);
  const [first, second] = withQuery.lines();
  t.equal(withoutTime(first ?? ''), withoutTime(pinoLine(record, {}, true)), 'log_query: true logs the query too');
  t.match(JSON.parse(first ?? '{}'), { path: '/login/cb?token=secret-123&state=x' });
  t.match(JSON.parse(second ?? '{}'), { path: '/login/cb' }, 'the setting is read per line, so a reload applies it');
});

t.test('a 4 MiB path writes a bounded line, cut and marked, still the line pino writes for the cut values', async (t) => {
  const huge = `/${'a'.repeat(4 * 1024 * 1024)}`;
  const record: RequestLogRecord = { route: 'r', functionName: 'f', method: 'GET', path: `${huge}?token=secret`, status: 200, latencyMs: 1, requestId: 'r-big' };
  for (const logQuery of [false, true]) {
    const { stream, lines } = capture();
    createRequestLog(createLogger('info', stream), { logQuery: () => logQuery }).requestDone(record);
    const line = lines()[0] ?? '';
    t.ok(line.length < 2048, `log_query ${logQuery}: ${line.length} characters`);
    const path = (JSON.parse(line) as { path: string }).path;
    t.equal(path, `${huge.slice(0, LOG_VALUE_MAX_CHARS)}...[+${huge.length - LOG_VALUE_MAX_CHARS + (logQuery ? '?token=secret'.length : 0)} chars]`, 'the first 1024 characters, then how many were cut');
    t.notOk(line.includes('secret'), 'a cut query is not in the log either');
    t.equal(withoutTime(line), withoutTime(pinoLine(record, {}, logQuery)));
  }
});

t.test("every string a request controls is cut at 1024 characters: route name from metadata, method, request id, error text, Lambda's ids", async (t) => {
  const long = (what: string): string => `${what}-${'x'.repeat(5000)}`;
  const record: RequestLogRecord = {
    route: long('route'),
    functionName: '',
    method: long('METHOD'),
    path: '/p',
    status: 500,
    latencyMs: 0.5,
    requestId: long('request-id'),
    lambdaRequestId: long('lambda-id'),
    traceId: long('Root=1'),
    error: { kind: 'unknown_route', message: `no route named "${long('route')}" (from gRPC metadata x-lambda-extproc-route)`, details: { awsCode: long('Code') } },
  };
  const { stream, lines } = capture();
  createRequestLog(createLogger('info', stream)).requestDone(record);
  const line = lines()[0] ?? '';
  t.equal(withoutTime(line), withoutTime(pinoLine(record, {})), "pino's line for the cut values");
  const logged = JSON.parse(line) as Record<string, string>;
  for (const key of ['route', 'method', 'request_id', 'lambda_request_id', 'trace_id', 'error', 'aws_code']) {
    t.ok((logged[key] ?? '').length <= LOG_VALUE_MAX_CHARS + '...[+99999 chars]'.length, `${key} is bounded`);
    t.match(logged[key], /\.\.\.\[\+\d+ chars\]$/, `${key} is marked as cut`);
  }
  t.ok(line.length < 8 * 1024, `the whole line is bounded (${line.length} characters for 7 fields of 5 KiB)`);
});

t.test('the other request-derived lines are bounded too; a cut never splits a surrogate pair', async (t) => {
  const { stream, lines } = capture();
  const log = createRequestLog(createLogger('info', stream));
  log.requestDone({ route: 'r', functionName: 'f', method: 'POST', path: '/p', status: 200, latencyMs: 1, requestId: `${'i'.repeat(1023)}😀${'j'.repeat(3000)}`, skippedBody: true });
  log.requestCancelled('c'.repeat(3000), 5);
  log.protocolError(`internal error: ${'e'.repeat(3000)}`);
  await new Promise((resolve) => setImmediate(resolve));
  const written = lines().map((line) => JSON.parse(line) as Record<string, string>);
  t.equal(written.length, 4, 'request, skipped body, cancelled, protocol error');
  t.equal(written[0]?.request_id, `${'i'.repeat(1023)}...[+${2 + 3000} chars]`, 'cut before the pair, not inside it');
  t.equal(written[1]?.request_id, written[0]?.request_id, 'the skipped-body line');
  t.equal(written[2]?.route, `${'c'.repeat(1024)}...[+1976 chars]`, 'the cancelled line');
  t.equal(written[3]?.error, `internal error: ${'e'.repeat(1024 - 'internal error: '.length)}...[+${3000 - 1024 + 'internal error: '.length} chars]`, 'the protocol error line');
});

t.test('a lone surrogate in a logged value is written escaped, as JSON.stringify writes it: the line keeps it and stays UTF-8', async (t) => {
  const { stream, lines } = capture();
  createRequestLog(createLogger('info', stream)).requestDone({ route: 'r', functionName: 'f', method: 'GET', path: '/a\ud800b', status: 200, latencyMs: 1, requestId: 'r-\udc00', lambdaRequestId: 'l-\u{1f600}' });
  const line = lines()[0] ?? '';
  t.ok(line.includes('"path":"/a\\ud800b"') && line.includes('"request_id":"r-\\udc00"'), line);
  t.ok(line.includes('"lambda_request_id":"l-\u{1f600}"'), 'a surrogate pair is written as the character');
  const logged = JSON.parse(line) as Record<string, string>;
  t.equal(logged.path, '/a\ud800b');
  t.equal(logged.request_id, 'r-\udc00');
});
