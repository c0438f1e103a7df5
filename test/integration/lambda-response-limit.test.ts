// An endpoint that answers more than Lambda ever can (an endless stream, a
// 7 MiB body) is cut off at LAMBDA_RESPONSE_LIMIT on both invoke paths: the
// lean undici path and the SDK path that proxy_url routes take. The client gets
// 502 Bad Gateway, the log says lambda_response_too_large, and the fake sees
// the connection that carried the answer closed before it had sent it all.
import t, { type Test } from 'tap';
import { ENDLESS_CAP_BYTES, type AnswerRecord } from '../fakes/lambda';
import { startFakeProxy } from '../fakes/proxy';
import { startHarness, fakeRoute, type Harness } from '../support/harness';
import { LAMBDA_RESPONSE_LIMIT } from '../../src/lambda/response-limit';

const MiB = 1024 * 1024;
const BIG = Buffer.alloc(7 * MiB, 0x62);
const FINE = Buffer.alloc(1 * MiB, 0x63);

/** Waits for the fake's connection to close; a client that never hangs up fails the test instead of hanging it. */
async function closedWithin(record: AnswerRecord, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  const closed = await Promise.race([record.connectionClosed.then(() => true), gaveUp]);
  clearTimeout(timer);
  return closed;
}

/** Highest RSS seen while `work` runs, sampled every 10 ms, against the RSS before it. */
async function rssGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 10);
  try {
    const result = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, growth: peak - before };
  } finally {
    clearInterval(sampler);
  }
}

function routes(prefix: string, extra: string): string {
  return [
    fakeRoute(`${prefix}-endless`, `match: { path: /${prefix}/endless }\nfunction_name: Endless\n${extra}`),
    fakeRoute(`${prefix}-big`, `match: { path: /${prefix}/big }\nfunction_name: Big\n${extra}`),
    fakeRoute(`${prefix}-big-chunked`, `match: { path: /${prefix}/big-chunked }\nfunction_name: BigChunked\n${extra}`),
    fakeRoute(`${prefix}-big-error`, `match: { path: /${prefix}/big-error }\nfunction_name: BigError\n${extra}`),
    fakeRoute(`${prefix}-fine`, `match: { path: /${prefix}/fine }\nfunction_name: Fine\n${extra}`),
  ].join('\n');
}

t.test('Lambda answers past the response limit', async (t) => {
  const proxy = await startFakeProxy();
  t.teardown(() => proxy.close());
  const h = await startHarness({
    config: `routes:\n${routes('fast', '')}\n${routes('sdk', `proxy_url: ${proxy.url}`)}`,
    lambda: {
      functions: {
        Endless: () => ({ wire: 'endless', contentType: 'application/octet-stream' }),
        Big: () => ({ body: BIG, contentType: 'application/octet-stream' }),
        BigChunked: () => ({ body: BIG, wire: 'chunked', contentType: 'application/octet-stream' }),
        BigError: () => ({ apiError: { status: 500, type: 'ServiceException', message: 'x'.repeat(7 * MiB) } }),
        Fine: () => ({ body: FINE, contentType: 'application/octet-stream' }),
      },
    },
  });
  t.teardown(() => h.close());

  const last = (path: string) => h.logs.filter((line) => line.path === path).at(-1);
  const answerOf = (name: string, before: number): AnswerRecord | undefined => h.lambda.answers.slice(before).find((a) => a.functionName === name);

  for (const prefix of ['fast', 'sdk']) {
    const via = prefix === 'fast' ? 'the lean path' : 'the SDK path (proxy_url)';

    t.test(`${via}: an endless body is cut off at the limit with 502, its connection closed, memory bounded`, async (t) => {
      const before = h.lambda.answers.length;
      const { result: r, growth } = await rssGrowth(() => h.send({ path: `/${prefix}/endless` }));
      t.equal(r.status, 502);
      t.same(r.json(), { message: 'Bad Gateway' });
      t.match(last(`/${prefix}/endless`), { cause: 'lambda_response_too_large', status: 502 });
      const record = answerOf('Endless', before);
      t.ok(record !== undefined && (await closedWithin(record, 10_000)), 'the fake saw its connection closed');
      t.equal(record?.closedByClient, true, 'closed by the client');
      t.equal(record?.cutOff, true, 'closed before the fake stopped on its own');
      t.ok((record?.bytesWritten ?? Infinity) < ENDLESS_CAP_BYTES, `the fake wrote ${record?.bytesWritten} bytes before the sidecar hung up`);
      t.comment(`${via}: RSS grew ${(growth / MiB).toFixed(1)} MiB at peak; the fake wrote ${((record?.bytesWritten ?? 0) / MiB).toFixed(1)} MiB`);
      t.ok(growth < 48 * MiB, `RSS grew ${(growth / MiB).toFixed(1)} MiB, bounded by the limit rather than by the stream`);
      await servesNext(t, h, prefix);
    });

    t.test(`${via}: a 7 MiB body announced by Content-Length answers 502 and its connection is closed`, async (t) => {
      const before = h.lambda.answers.length;
      const r = await h.send({ path: `/${prefix}/big` });
      t.equal(r.status, 502);
      t.same(r.json(), { message: 'Bad Gateway' });
      t.match(last(`/${prefix}/big`), { cause: 'lambda_response_too_large', status: 502 });
      const record = answerOf('Big', before);
      t.ok(record !== undefined && (await closedWithin(record, 10_000)), 'the fake saw its connection closed');
      t.equal(record?.closedByClient, true, 'closed by the client, not by the fake at its keep-alive timeout');
      await servesNext(t, h, prefix);
    });

    t.test(`${via}: a 7 MiB body without Content-Length is counted and answers 502`, async (t) => {
      const r = await h.send({ path: `/${prefix}/big-chunked` });
      t.equal(r.status, 502);
      t.match(last(`/${prefix}/big-chunked`), { cause: 'lambda_response_too_large', status: 502 });
      await servesNext(t, h, prefix);
    });

    t.test(`${via}: a 7 MiB Lambda error document is bounded too`, async (t) => {
      const r = await h.send({ path: `/${prefix}/big-error` });
      t.equal(r.status, 502);
      t.match(last(`/${prefix}/big-error`), { cause: 'lambda_response_too_large', status: 502 });
      await servesNext(t, h, prefix);
    });
  }
});

t.test('the limit is past Lambda\'s 6 MiB output, with headroom', async (t) => {
  t.equal(LAMBDA_RESPONSE_LIMIT, 6 * MiB + 256 * 1024);
});

async function servesNext(t: Test, h: Harness, prefix: string): Promise<void> {
  const next = await h.send({ path: `/${prefix}/fine` });
  t.equal(next.status, 200, 'the next request is served');
  t.ok(next.body.equals(FINE), 'a 1 MiB answer passes whole');
}
