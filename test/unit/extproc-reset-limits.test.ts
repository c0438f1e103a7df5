import t from 'tap';
import { Server } from '@grpc/grpc-js';
import { RAISED_RESET_LIMITS, raiseResetLimits, supportsResetLimits } from '../../src/extproc/reset-limits';

t.test('only Node 22.10+ and 23+ take streamResetBurst/streamResetRate', async (t) => {
  const table: Array<[string, boolean]> = [
    ['v20.20.2', false],
    ['v22.9.0', false],
    ['v22.10.0', true],
    ['v22.23.3', true],
    ['v23.0.0', true],
    ['24.1.0', true],
  ];
  for (const [version, expected] of table) t.equal(supportsResetLimits(version), expected, version);
});

t.test('puts the raised reset limits into the options grpc-js gives http2.createServer', async (t) => {
  const server = new Server();
  t.equal(raiseResetLimits(server, RAISED_RESET_LIMITS), true, 'the installed grpc-js still has commonServerOptions');
  const options = (server as unknown as { commonServerOptions: Record<string, unknown> }).commonServerOptions;
  t.equal(options.streamResetBurst, RAISED_RESET_LIMITS.burst);
  t.equal(options.streamResetRate, RAISED_RESET_LIMITS.rate);
  t.equal(options.maxSessionMemory, Number.MAX_SAFE_INTEGER, "grpc-js's own options are kept");
});

t.test('reports false instead of throwing when grpc-js lacks the field', async (t) => {
  const server = new Server();
  delete (server as unknown as { commonServerOptions?: unknown }).commonServerOptions;
  t.equal(raiseResetLimits(server, RAISED_RESET_LIMITS), false);
});
