import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { z } from 'zod';
import { renderConfigJsonSchema, toConfigJsonSchema } from '../../src/config/json-schema';
import { parseConfig } from '../../src/config/load';

const ROOT = join(__dirname, '..', '..');
const shipped = readFileSync(join(ROOT, 'schema', 'config.schema.json'), 'utf8');
// A validator built from the JSON Schema alone, as an editor would use it.
const fromJson = z.fromJSONSchema(JSON.parse(shipped) as Parameters<typeof z.fromJSONSchema>[0]);

t.test('the shipped schema equals a fresh generation from the zod schema (run npm run schema)', async (t) => {
  t.equal(shipped, renderConfigJsonSchema());
});

t.test('the example config references the shipped schema for editors', async (t) => {
  const example = readFileSync(join(ROOT, 'config', 'example.yaml'), 'utf8');
  t.match(example, /^# yaml-language-server: \$schema=\.\.\/schema\/config\.schema\.json$/m);
});

t.test('the JSON Schema accepts the example config, as check does', async (t) => {
  const text = readFileSync(join(ROOT, 'config', 'example.yaml'), 'utf8');
  t.equal(parseConfig(text, {}).ok, true);
  const result = fromJson.safeParse(parse(text));
  t.equal(result.success, true, result.success ? '' : JSON.stringify(result.error.issues));
});

const BAD: Record<string, string> = {
  'an unknown top-level key': 'listn: 127.0.0.1:1\nroutes:\n  - { name: a, function_name: f }\n',
  'an unknown route key': 'routes:\n  - { name: a, function_name: f, fucntion: g }\n',
  'a wrong enum value': 'routes:\n  - { name: a, function_name: f, invocation_type: Sometimes }\n',
  'a string where a number goes': 'routes:\n  - { name: a, function_name: f, timeout: soon }\n',
  'no routes': 'listen: 127.0.0.1:50051\n',
  'a route without a name': 'routes:\n  - { function_name: f }\n',
  'a bad listen address': 'listen: localhost\nroutes:\n  - { name: a, function_name: f }\n',
  'a path_prefix without its leading /': 'routes:\n  - { name: a, function_name: f, match: { path_prefix: x } }\n',
};

for (const [what, text] of Object.entries(BAD)) {
  t.test(`the JSON Schema and check both reject ${what}`, async (t) => {
    t.equal(parseConfig(text, {}).ok, false, 'check rejects');
    t.equal(fromJson.safeParse(parse(text)).success, false, 'JSON Schema rejects');
  });
}

t.test('route fields may come from defaults, so only name is required of a route', async (t) => {
  const text = 'defaults:\n  function_name: shared\n  aws_region: us-east-1\nroutes:\n  - name: a\n';
  t.equal(parseConfig(text, {}).ok, true);
  t.equal(fromJson.safeParse(parse(text)).success, true);
  const routes = (toConfigJsonSchema().properties as Record<string, { items: { required: string[] } } | undefined>).routes;
  t.same(routes?.items.required, ['name']);
});
