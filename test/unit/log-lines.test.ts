import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import t from 'tap';
import { batchPerTurn, type LineDestination } from '../../src/observability/batch-per-turn';
import { createLogger } from '../../src/observability/logger';
import { createRequestLog, type RequestLogRecord } from '../../src/observability/request-log';

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
  { route: 'quotes', functionName: 'q', method: 'GET', path: '/say?q="hi"\\\t\u0001é', status: 200, latencyMs: 1e-7, requestId: 'r-5' },
];

// What pino wrote for the request line before it had its own writer: the reference.
const pinoLine = (record: RequestLogRecord, fields: Record<string, unknown>): string => {
  const { stream, lines } = capture();
  const logger = createLogger('info', stream, fields);
  const { error } = record;
  const failed = error !== undefined && record.status >= 500;
  logger[failed ? 'error' : 'info'](
    {
      route: record.route,
      function: record.functionName,
      method: record.method,
      path: record.path,
      status: record.status,
      latency_ms: record.latencyMs,
      request_id: record.requestId,
      lambda_request_id: record.lambdaRequestId,
      trace_id: record.traceId,
      ...(error === undefined ? {} : { cause: error.kind, error: error.message, aws_code: error.details.awsCode }),
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

t.test('lines of one turn of the event loop reach the destination as one write, in order', async (t) => {
  const destination = recording();
  const batched = batchPerTurn(destination);
  batched.write('a\n');
  batched.write('b\n');
  batched.write('c\n');
  t.same(destination.writes, [], 'nothing written during the turn');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(destination.writes, ['a\nb\nc\n'], 'one write after it');
  batched.write('d\n');
  await new Promise((resolve) => setImmediate(resolve));
  t.same(destination.writes, ['a\nb\nc\n', 'd\n'], 'the next turn, the next write');
  batched.write('e\n');
  batched.flushSync();
  t.same(destination.writes.at(-1), 'e\n', 'flushSync writes what waits first');
  batched.write('f\n');
  await new Promise<void>((resolve) => batched.flush(() => resolve()));
  t.same(destination.writes.at(-1), 'f\n', 'so does flush');
  t.same(destination.flushes, ['flushSync', 'flush'], 'then the destination flushes');
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(destination.writes.length, 4, 'nothing is written twice');
});

t.test('a turn with more than 4 KiB of lines is written in whole lines of at most 4 KiB per write (atomic on a pipe)', async (t) => {
  const destination = recording();
  const batched = batchPerTurn(destination);
  const line = (n: number, size: number): string => `${String(n).padStart(4, '0')}${'x'.repeat(size - 5)}\n`;
  const lines = [...Array.from({ length: 30 }, (_, n) => line(n, 300)), line(30, 5000), line(31, 300)];
  for (const text of lines) batched.write(text);
  await new Promise((resolve) => setImmediate(resolve));
  t.equal(destination.writes.join(''), lines.join(''), 'every line, in order');
  t.same(
    destination.writes.map((data) => Buffer.byteLength(data)),
    [13 * 300, 13 * 300, 4 * 300, 5000, 300],
    '13 lines, 13 lines, the 4 left, the long line alone, the last',
  );
  t.ok(destination.writes.every((data) => data.endsWith('\n')), 'no write ends inside a line');
});

t.test('a process that exits in the turn it logged still writes every line to stdout', async (t) => {
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
