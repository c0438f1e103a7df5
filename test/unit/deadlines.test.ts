// The shared deadline tick: due deadlines fire once, in order, cancelled ones
// never do, and cancelled ones do not pile up behind a long one still running.
import t from 'tap';
import { createDeadlines } from '../../src/extproc/deadlines';

const TICK = 5;
// Until `done` holds, for at most 5 s (the tick is a real timer; the clock is ours).
const until = async (done: () => boolean): Promise<void> => {
  for (let waited = 0; !done() && waited < 5000; waited += TICK) await new Promise((resolve) => setTimeout(resolve, TICK));
};
const clock = (): { now: () => number; advance(ms: number): void } => {
  let at = 1_000_000;
  return { now: () => at, advance: (ms) => void (at += ms) };
};

t.test('due deadlines fire once, in the order they are due; cancelled ones never', async (t) => {
  const time = clock();
  const deadlines = createDeadlines(TICK, time.now);
  const fired: string[] = [];
  deadlines.add(100, () => fired.push('a100'));
  const b = deadlines.add(100, () => fired.push('b100'));
  deadlines.add(50, () => fired.push('c50'));
  time.advance(10);
  deadlines.add(100, () => fired.push('d100'));
  b.cancel();
  b.cancel();
  await new Promise((resolve) => setTimeout(resolve, TICK * 4));
  t.same(fired, [], 'nothing is due yet');
  time.advance(45);
  await until(() => fired.length >= 1);
  t.same(fired, ['c50'], 'the 50 ms one, not yet the 100 ms ones');
  time.advance(50);
  await until(() => fired.length >= 2);
  await new Promise((resolve) => setTimeout(resolve, TICK * 4));
  t.same(fired, ['c50', 'a100'], 'a is due; b was cancelled; d is due 10 ms later');
  time.advance(10);
  await until(() => fired.length >= 3);
  t.same(fired, ['c50', 'a100', 'd100']);
  await until(() => deadlines.held === 0);
  t.equal(deadlines.held, 0, 'nothing held once all fired');
});

t.test('a deadline that fires may cancel and add others', async (t) => {
  const time = clock();
  const deadlines = createDeadlines(TICK, time.now);
  const fired: string[] = [];
  const later = deadlines.add(20, () => fired.push('later'));
  deadlines.add(10, () => {
    fired.push('first');
    later.cancel();
    deadlines.add(10, () => fired.push('added'));
  });
  deadlines.add(10, () => fired.push('second'));
  time.advance(15);
  await until(() => fired.length >= 2);
  t.same(fired, ['first', 'second'], 'the two due ones, in order');
  time.advance(10);
  await until(() => fired.length >= 3);
  await new Promise((resolve) => setTimeout(resolve, TICK * 4));
  t.same(fired, ['first', 'second', 'added'], 'the one cancelled by the first never fires; the one it added does');
});

t.test('cancelled deadlines behind a long one still running are dropped, not held', async (t) => {
  const time = clock();
  const deadlines = createDeadlines(TICK, time.now);
  let fired = 0;
  const long = deadlines.add(1000, () => fired++);
  for (let i = 0; i < 10_000; i++) deadlines.add(1000, () => fired++).cancel();
  t.ok(deadlines.held < 1100, `held ${deadlines.held} of 10,001 after 10,000 cancels`);
  time.advance(1000);
  await until(() => fired > 0);
  t.equal(fired, 1, 'only the one still running fires');
  long.cancel();
  await until(() => deadlines.held === 0);
  t.equal(deadlines.held, 0);
});

t.test('cancelled deadlines at the head are dropped on the next tick, long before they would be due', async (t) => {
  const time = clock();
  const deadlines = createDeadlines(TICK, time.now);
  for (let i = 0; i < 100; i++) deadlines.add(60_000, () => t.fail('cancelled deadline fired')).cancel();
  t.equal(deadlines.held, 100, 'marked, not yet dropped');
  await until(() => deadlines.held === 0);
  t.equal(deadlines.held, 0, 'dropped by the tick');
});
