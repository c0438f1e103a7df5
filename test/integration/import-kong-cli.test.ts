import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { runCli } from '../support/cli';

const FIXTURES = join(__dirname, '..', 'fixtures', 'kong');
const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-import-'));

t.test('import-kong prints a config that check accepts, and its notes on stderr', async (t) => {
  for (const fixture of ['lambda-gateway.yaml', 'global-plugin.json']) {
    const imported = await runCli(['import-kong', join(FIXTURES, fixture)]);
    t.equal(imported.code, 0, imported.code === 0 ? `${fixture} imported` : imported.stderr);
    t.match(imported.stderr, /routes? imported/);
    t.notMatch(imported.stdout, /import-kong:/, 'notes stay off stdout');
    const file = join(dir, `${fixture}.lambda-extproc.yaml`);
    writeFileSync(file, imported.stdout);
    const checked = await runCli(['check', '--config', file], { DECK_AWS_KEY: 'AKIDIMPORT', DECK_AWS_SECRET: 'import-secret' });
    t.equal(checked.code, 0, checked.code === 0 ? 'the output passes check' : checked.stderr);
    t.match(checked.stdout, /OK \(\d+ routes?\)/);
  }
});

t.test('import-kong exits 1 on a file with no Lambda route and 2 without a file', async (t) => {
  const none = await runCli(['import-kong', join(FIXTURES, 'no-lambda.yaml')]);
  t.equal(none.code, 1);
  t.equal(none.stdout, '');
  t.match(none.stderr, /no route that an aws-lambda plugin applies to/);
  const missing = await runCli(['import-kong']);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /import-kong needs the decK file/);
});

t.test('schema prints the JSON Schema that is shipped', async (t) => {
  const out = await runCli(['schema']);
  t.equal(out.code, 0);
  const schema = JSON.parse(out.stdout) as { title: string; properties: Record<string, unknown> };
  t.equal(schema.title, 'lambda-extproc configuration');
  t.ok('routes' in schema.properties && 'watch' in schema.properties);
});
