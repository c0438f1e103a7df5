import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { parse } from 'yaml';
import { parseConfig } from '../../src/config/load';
import { convertDeck, toJsRegex } from '../../src/kong-import/convert';
import { compileRoutes, selectRoute } from '../../src/routing';
import { importKong } from '../../src/kong-import/import-kong';
import { parseDeck, readDeckFile } from '../../src/kong-import/read-deck';

const FIXTURES = join(__dirname, '..', 'fixtures', 'kong');

function convertFixture(name: string) {
  const read = readDeckFile(join(FIXTURES, name));
  if (!read.ok) throw new Error(read.problem);
  return convertDeck(read.deck);
}

function convertText(text: string) {
  const read = parseDeck(text);
  if (!read.ok) throw new Error(read.problem);
  return convertDeck(read.deck);
}

t.test('imports a decK dump: routes in Kong evaluation order, one per path, with the plugin fields that differ from our defaults', async (t) => {
  const { routes } = convertFixture('lambda-gateway.yaml');
  t.same(
    routes.map((r) => r.name),
    ['order-by-id', 'orders-admin-2', 'orders-admin-1', 'orders-list', 'status'],
    'regex first, then the longest prefix',
  );
  const byName = Object.fromEntries(routes.map((r) => [r.name, r]));
  t.same(byName['order-by-id']?.match, { path_regex: '/orders/(?<id>\\d+)$', methods: ['GET', 'DELETE'] }, '~ path ending in $ → the same whole-path path_regex');
  t.same(byName['orders-list']?.match, { path_prefix: '/orders', methods: ['GET'] });
  t.same(byName['orders-list'], {
    name: 'orders-list',
    match: { path_prefix: '/orders', methods: ['GET'] },
    aws_key: '${DECK_AWS_KEY}',
    aws_secret: '${DECK_AWS_SECRET}',
    aws_region: 'eu-west-1',
    function_name: 'orders-service',
    log_type: 'Tail',
    forward_request_body: true,
    forward_request_headers: true,
    forward_request_method: true,
    forward_request_uri: true,
    empty_arrays_mode: 'legacy',
  }, 'nulls and values equal to our defaults left out; decK env templates become ${VAR}');
});

t.test('plugin precedence is route > service > global, as in Kong', async (t) => {
  const { routes } = convertFixture('lambda-gateway.yaml');
  const fn = Object.fromEntries(routes.map((r) => [r.name, r.function_name]));
  t.equal(fn['order-by-id'], 'orders-by-id', 'the route plugin beats the service plugin');
  t.equal(fn['orders-list'], 'orders-service', 'the service plugin applies to its routes');
  t.equal(fn.status, 'arn:aws:lambda:us-east-1:123456789012:function:status', 'a top-level plugin naming a route');
  const global = convertFixture('global-plugin.json');
  t.same(global.routes.map((r) => [r.name, r.function_name, r.timeout]), [
    ['hello', 'hello-world', 3000],
    ['catch-all', 'hello-world', 3000],
  ], 'a global plugin reaches every HTTP route');
  t.same(global.routes[1]?.match, { path_prefix: '/' }, 'a route without paths matches every path, as in Kong');
  t.same(global.routes[0]?.match, { path_prefix: '/hello', methods: ['GET', 'POST'] }, 'methods upper-cased');
  const layered = convertText(`_format_version: "3.0"
services:
  - name: s
    url: http://x.invalid
    plugins: [{ name: aws-lambda, config: { function_name: from-service } }]
    routes:
      - { name: r, paths: [/r] }
plugins:
  - { name: aws-lambda, config: { function_name: from-global } }
`);
  t.equal(layered.routes[0]?.function_name, 'from-service', 'service beats global');
});

t.test('everything that cannot be mapped is reported, not dropped', async (t) => {
  const { notes } = convertFixture('lambda-gateway.yaml');
  const text = notes.map((n) => `${n.where}: ${n.message}`).join('\n');
  t.match(text, /consumers: not imported \(1\)/);
  t.match(text, /plugin rate-limiting \(service orders\): not imported/);
  t.match(text, /plugin key-auth \(global\): not imported/);
  t.match(text, /plugin aws-lambda \(consumer partner\): scoped to a consumer/);
  t.match(text, /plugin aws-lambda \(route legacy\): disabled/);
  t.match(text, /route legacy: no aws-lambda plugin applies/);
  t.match(text, /route orders-admin: hosts \["admin\.example\.com"\] not mapped/);
  t.match(text, /route orders-admin: 2 paths: one lambda-extproc route per path/);
  t.match(text, /route orders-list: strip_path has no effect/);
  t.match(text, /config\.proxy_scheme has no lambda-extproc equivalent/);
  t.match(text, /log_type: Tail kept/);
  t.match(text, /plugin aws-lambda \(route order-by-id\): log_type not set: Kong defaults to Tail/);
  t.match(text, /plugin aws-lambda \(route order-by-id\): empty_arrays_mode not set/);
  const global = convertFixture('global-plugin.json');
  t.match(global.notes.map((n) => `${n.where}: ${n.message}`).join('\n'), /route grpc-only: protocols \[grpc\] are not HTTP/);
});

t.test('awsgateway_compatible with strip_path is reported as a payload difference', async (t) => {
  const { notes } = convertText(`_format_version: "3.0"
routes:
  - { name: gw, paths: [/api], plugins: [{ name: aws-lambda, config: { function_name: f, awsgateway_compatible: true } }] }
`);
  t.match(notes.map((n) => n.message).join('\n'), /API Gateway event carries the path after stripping/);
});

t.test('names are made safe and unique; hosts-only routes are reachable by name only', async (t) => {
  const { routes, notes } = convertText(`_format_version: "3.0"
plugins: [{ name: aws-lambda, config: { function_name: f } }]
services:
  - name: s
    url: http://x.invalid
    routes:
      - { name: "odd~name", paths: [/a] }
      - { paths: [/b] }
      - { name: hosty, hosts: [api.example.com] }
      - { name: "odd-name", paths: [/c] }
`);
  t.same(routes.map((r) => r.name).sort(), ['hosty', 'odd-name', 'odd-name-2', 's-2'].sort());
  t.equal(routes.find((r) => r.name === 'hosty')?.match, undefined);
  const text = notes.map((n) => n.message).join('\n');
  t.match(text, /renamed to odd-name/);
  t.match(text, /unnamed: imported as s-2/);
  t.match(text, /only Envoy selects it \(x-lambda-extproc-route: hosty/);
});

t.test('PCRE named groups become JavaScript ones; an invalid regex is reported and skipped', async (t) => {
  const { routes, notes } = convertText(`_format_version: "3.0"
plugins: [{ name: aws-lambda, config: { function_name: f } }]
routes:
  - { name: p, paths: ["~/users/(?P<id>[0-9]+)$", "~/broken/("] }
`);
  t.same(routes.map((r) => r.match), [{ path_regex: '/users/(?<id>[0-9]+)$' }]);
  t.match(notes.map((n) => n.message).join('\n'), /regex path "~\/broken\/\(" is not a valid JavaScript regular expression/);
});

t.test('the printed config passes check, with the decK env variables set', async (t) => {
  const out = importKong(join(FIXTURES, 'lambda-gateway.yaml'));
  t.equal(out.code, 0, out.stderr);
  t.match(out.stdout, /^# lambda-extproc config imported from /);
  const checked = parseConfig(out.stdout, { DECK_AWS_KEY: 'AKIDX', DECK_AWS_SECRET: 'secret' });
  t.equal(checked.ok, true);
  t.same((parse(out.stdout) as { routes: unknown[] }).routes.length, 5);
  t.match(out.stderr, /set DECK_AWS_KEY, DECK_AWS_SECRET in the environment/);
  t.match(out.stderr, /5 routes imported, 13 notes/);
});

t.test('a file without any Lambda route, or not a decK file, exits 1 saying why', async (t) => {
  const none = importKong(join(FIXTURES, 'no-lambda.yaml'));
  t.equal(none.code, 1);
  t.equal(none.stdout, '');
  t.match(none.stderr, /plugin cors \(service web\): not imported/);
  t.match(none.stderr, /has no route that an aws-lambda plugin applies to/);
  t.equal(importKong(join(FIXTURES, 'nope.yaml')).code, 1);
  t.same(parseDeck('- a list'), { ok: false, problem: 'not a decK file: the top level must be a mapping with services, routes or plugins' });
});

t.test('a plugin value lambda-extproc rejects fails the import with the problem named', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lambda-extproc-kong-'));
  const file = join(dir, 'kong.yaml');
  writeFileSync(file, '_format_version: "3.0"\nroutes:\n  - { name: r, paths: [/r], plugins: [{ name: aws-lambda, config: { function_name: f, invocation_type: Sometimes } }] }\n');
  const out = importKong(file);
  t.equal(out.code, 1);
  t.match(out.stdout, /invocation_type: Sometimes/, 'still printed, to be fixed by hand');
  t.match(out.stderr, /does not pass check:\nroutes\[0\]\.invocation_type:/);
});

// Kong's router matches a `~` path at the start of the path only; the rest may
// be anything. path_regex matches the whole path, so the import must say so.
t.test("regex paths keep Kong's start-anchored meaning under the whole-path path_regex", async (t) => {
  t.same(
    ['/v(?<version>\\d+)/items', '^/x', '/a|/b', '/exact$', '/escaped\\$', '/any.*', '/dots\\.*', '/backslash\\\\.*'].map(toJsRegex),
    ['/v(?<version>\\d+)/items.*', '/x.*', '(?:/a|/b).*', '/exact$', '/escaped\\$.*', '/any.*', '/dots\\.*.*', '/backslash\\\\.*'],
    'a rest is allowed unless the pattern ends in $ or .*; alternatives are grouped first; ^ is dropped (the match anchors it)',
  );
  const { routes } = convertText(`_format_version: "3.0"
plugins: [{ name: aws-lambda, config: { function_name: f, aws_region: us-east-1 } }]
routes:
  - { name: versioned, paths: ['~/v(?P<version>\\d+)/items'] }
  - { name: either, paths: ['~/red|/blue'] }
  - { name: exact, paths: ['~/only/[0-9]+$'] }
`);
  const loaded = parseConfig(JSON.stringify({ routes }), {});
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const table = compileRoutes(loaded.config.routes);
  const picked = (pathname: string): unknown => {
    const selection = selectRoute(table, { metadataRoute: undefined, xdsRouteName: undefined, method: 'GET', pathname });
    return selection.kind === 'route' ? [selection.route.config.name, selection.match.pathParameters] : selection.kind;
  };
  // Kong: ngx.re.find(path, regex, "ajo") (anchored at the start, not the end).
  t.same(picked('/v2/items'), ['versioned', { version: '2' }]);
  t.same(picked('/v2/items/17'), ['versioned', { version: '2' }], 'a longer path still matches, as in Kong');
  t.equal(picked('/api/v2/items'), 'none', 'not in the middle of the path, as in Kong');
  t.same(picked('/blue/sky'), ['either', {}], 'each alternative anchored at the start and open at the end');
  t.equal(picked('/sky/blue'), 'none');
  t.same(picked('/only/42'), ['exact', {}]);
  t.equal(picked('/only/42/more'), 'none', 'a $ the author wrote still ends the match');
});
