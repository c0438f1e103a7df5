// Where nghttp2's rapid-reset limit is raised, and the one start-up line that
// says so, from config, listen address, Node version and grpc-js internals.
import t from 'tap';
import { Server } from '@grpc/grpc-js';
import { GRACEFUL_CLOSE_FLAG, hasResetLimitInternals, isLoopbackListen, planResetLimits, type ResetLimitsPlanInput } from '../../src/extproc/reset-limits';

const NODE_OK = 'v22.23.3';
const NODE_OLD = 'v20.20.2';

t.test('loopback listen addresses: 127.0.0.0/8, ::1, localhost; nothing else', async (t) => {
  const table: Array<[string, boolean]> = [
    ['127.0.0.1:50051', true],
    ['127.10.20.30:50051', true],
    ['[::1]:50051', true],
    ['localhost:50051', true],
    ['LOCALHOST:1', true],
    ['0.0.0.0:50051', false],
    ['[::]:50051', false],
    ['10.0.0.7:50051', false],
    ['128.0.0.1:50051', false],
    ['sidecar.local:50051', false],
    ['127.0.0.1.example.com:50051', false],
    ['localhost.example.com:50051', false],
  ];
  for (const [listen, expected] of table) t.equal(isLoopbackListen(listen), expected, listen);
});

const plan = (input: Partial<ResetLimitsPlanInput>) => planResetLimits({ mode: 'auto', listen: '127.0.0.1:50051', nodeVersion: NODE_OK, grpcInternals: true, ...input });

t.test('auto raises on a loopback listener, says so at info', async (t) => {
  const p = plan({});
  t.equal(p.raise, true);
  t.equal(p.level, 'info');
  t.match(p.message, /raised .*loopback listener \(raise_reset_limits: auto\)/);
});

t.test('auto keeps the limit on 0.0.0.0 and names the Envoy flag, without a warning', async (t) => {
  const p = plan({ listen: '0.0.0.0:50051' });
  t.equal(p.raise, false);
  t.equal(p.level, 'info');
  t.match(p.message, /not loopback/);
  t.ok(p.message.includes(GRACEFUL_CLOSE_FLAG));
});

t.test('always raises on 0.0.0.0; never keeps the limit on loopback', async (t) => {
  t.equal(plan({ mode: 'always', listen: '0.0.0.0:50051' }).raise, true);
  t.match(plan({ mode: 'always', listen: '0.0.0.0:50051' }).message, /raise_reset_limits: always/);
  const never = plan({ mode: 'never' });
  t.equal(never.raise, false);
  t.equal(never.level, 'info');
  t.match(never.message, /raise_reset_limits: never/);
});

t.test('one warning naming ext_proc_graceful_grpc_close when the limit should be raised and cannot be', async (t) => {
  const old = plan({ nodeVersion: NODE_OLD });
  t.equal(old.raise, false);
  t.equal(old.level, 'warn');
  t.ok(old.message.includes('envoy.reloadable_features.ext_proc_graceful_grpc_close'), old.message);
  t.match(old.message, /Node v20\.20\.2 has no streamResetBurst/);
  const noInternals = plan({ grpcInternals: false, mode: 'always', listen: '0.0.0.0:1' });
  t.equal(noInternals.level, 'warn');
  t.match(noInternals.message, /grpc-js does not expose/);
  t.ok(noInternals.message.includes(GRACEFUL_CLOSE_FLAG));
});

t.test('no warning where nothing would be raised anyway, whatever the Node version', async (t) => {
  t.equal(plan({ nodeVersion: NODE_OLD, listen: '0.0.0.0:50051' }).level, 'info');
  t.equal(plan({ nodeVersion: NODE_OLD, mode: 'never' }).level, 'info');
});

t.test('hasResetLimitInternals reads the installed grpc-js without writing to it', async (t) => {
  const server = new Server();
  t.equal(hasResetLimitInternals(server), true);
  const options = (server as unknown as { commonServerOptions: Record<string, unknown> }).commonServerOptions;
  t.equal(options.streamResetBurst, undefined, 'nothing written');
  delete (server as unknown as { commonServerOptions?: unknown }).commonServerOptions;
  t.equal(hasResetLimitInternals(server), false);
});
