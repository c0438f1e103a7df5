// How deep the logger's redaction reaches (src/observability/redact.ts,
// MAX_DEPTH 6): the log object is depth 0 and a secret key is censored in any
// object or array element down to depth 6, i.e. a key path of up to seven
// names such as a.b.c.d.e.f.authorization. One level further it is not.
// Tested through the logger as it writes lines.
import { Writable } from 'node:stream';
import t from 'tap';
import { createLogger } from '../../src/observability/logger';
import { CENSOR } from '../../src/observability/redact';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Array<Record<string, unknown>>; raw: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString('utf8'));
      callback();
    },
  });
  const raw = () => chunks.join('');
  return {
    log: createLogger('info', sink),
    raw,
    lines: () =>
      raw()
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** `levels` objects `{ n: … }` around `leaf`: the leaf's keys sit at depth `levels` (0: the log object itself). */
const nest = (levels: number, leaf: Record<string, unknown>): Record<string, unknown> => (levels === 0 ? leaf : { n: nest(levels - 1, leaf) });
const leafAt = (line: Record<string, unknown> | undefined, levels: number): Record<string, unknown> | undefined => {
  let value: unknown = line;
  for (let i = 0; i < levels; i++) value = (value as Record<string, unknown> | undefined)?.n;
  return value as Record<string, unknown> | undefined;
};

t.test('secret keys are censored down to depth 6 (a key path of seven names), not at depth 7', async (t) => {
  const { log, lines, raw } = capture();
  for (let levels = 0; levels <= 7; levels++) log.info(nest(levels, { authorization: `Bearer depth-${levels}-SECRET`, harmless: levels }), `depth ${levels}`);
  const written = lines();
  t.equal(written.length, 8);
  t.match(written[0], { authorization: CENSOR, harmless: 0 }, 'depth 0: censored, other fields kept');
  for (let levels = 1; levels <= 6; levels++) {
    t.same(leafAt(written[levels], levels), { authorization: CENSOR, harmless: levels }, `depth ${levels}: censored, other fields kept`);
  }
  t.same(leafAt(written[7], 7), { authorization: 'Bearer depth-7-SECRET', harmless: 7 }, 'depth 7: past the walk, written as it is');
  t.notMatch(raw(), /depth-[0-6]-SECRET/, 'no secret from depth 0 to 6 in the output');
});

t.test('an array is a level of its own; key names match in any case', async (t) => {
  const { log, lines } = capture();
  log.info({ list: [{ cookie: 'c=SECRET' }] }, 'array');
  log.info(nest(4, { list: [{ cookie: 'c=SECRET' }] }), 'element at depth 6');
  log.info(nest(5, { list: [{ cookie: 'c=DEEP' }] }), 'element at depth 7');
  log.info({ Authorization: 'A', 'X-Amz-Security-Token': 'T', SecretAccessKey: 'S' }, 'case');
  const [shallow, six, seven, mixed] = lines();
  t.same(shallow?.list, [{ cookie: CENSOR }], 'an element of an array in the log object is at depth 2: censored');
  t.same(leafAt(six, 4)?.list, [{ cookie: CENSOR }], 'an element at depth 6: censored');
  t.same(leafAt(seven, 5)?.list, [{ cookie: 'c=DEEP' }], 'an element at depth 7 (the array counts as a level): not censored');
  t.match(mixed, { Authorization: CENSOR, 'X-Amz-Security-Token': CENSOR, SecretAccessKey: CENSOR });
});

// Pinned so the docs can say exactly what is and is not censored; a change that
// closes one of these gaps updates this test and the docs together.
t.test('outside the walk today: an Error\'s own properties, a child logger\'s bindings, [name, value] pairs', async (t) => {
  const { log, raw } = capture();
  log.info({ err: Object.assign(new Error('boom'), { authorization: 'error-prop-SECRET' }) }, 'error with a secret property');
  log.child({ authorization: 'child-binding-SECRET' }).info('child');
  log.info({ headers: [['authorization', 'header-pair-SECRET']] }, 'header pairs');
  t.match(raw(), /error-prop-SECRET/, "an Error's own properties are written as they are");
  t.match(raw(), /child-binding-SECRET/, "a child logger's bindings are written as they are");
  t.match(raw(), /header-pair-SECRET/, '[name, value] pairs are not matched by name');
});
