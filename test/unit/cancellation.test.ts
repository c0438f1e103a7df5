import t from 'tap';
import { createCancellation, toAbortSignal } from '../../src/cancellation';

t.test('cancel runs every registered stop once, in order', async (t) => {
  const c = createCancellation();
  const ran: string[] = [];
  c.onCancel(() => ran.push('a'));
  const forget = c.onCancel(() => ran.push('forgotten'));
  c.onCancel(() => ran.push('b'));
  forget();
  t.equal(c.cancelled, false);
  c.cancel();
  c.cancel();
  t.equal(c.cancelled, true);
  t.same(ran, ['a', 'b'], 'forgotten stops do not run; a second cancel runs nothing again');
});

t.test('a stop registered after the cancel runs at once', async (t) => {
  const c = createCancellation();
  c.cancel();
  let ran = 0;
  const forget = c.onCancel(() => ran++);
  t.equal(ran, 1);
  forget();
  t.equal(ran, 1, 'forgetting afterwards is harmless');
});

t.test('toAbortSignal follows the cancellation until released', async (t) => {
  const first = createCancellation();
  const bridged = toAbortSignal(first);
  t.equal(bridged.signal.aborted, false);
  first.cancel();
  t.equal(bridged.signal.aborted, true, 'aborts when the request is cancelled');
  const second = createCancellation();
  const released = toAbortSignal(second);
  released.release();
  second.cancel();
  t.equal(released.signal.aborted, false, 'a released signal no longer follows');
});

t.test('listeners run once on cancel, in registration order with stops; unlisten forgets them', async (t) => {
  const c = createCancellation();
  const ran: string[] = [];
  const listener = (name: string) => ({ onCancelled: () => ran.push(name) });
  const a = listener('a');
  const forgotten = listener('forgotten');
  const last = listener('last');
  c.listen(a);
  c.onCancel(() => ran.push('stop'));
  c.listen(forgotten);
  c.listen(last);
  c.unlisten(forgotten);
  c.unlisten(last);
  c.listen(last);
  c.cancel();
  c.cancel();
  t.same(ran, ['a', 'stop', 'last'], 'each once; forgotten ones not at all');
  const late = listener('late');
  c.listen(late);
  t.same(ran, ['a', 'stop', 'last', 'late'], 'a listener added after the cancel runs at once');
  c.unlisten(late);
});
