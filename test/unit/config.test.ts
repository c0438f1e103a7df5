import t from 'tap';
import { formatProblems, parseConfig } from '../../src/config/load';
import { routeProblems } from '../../src/config/route-problems';

const ok = (text: string, env: NodeJS.ProcessEnv = {}) => {
  const r = parseConfig(text, env);
  if (!r.ok) throw new Error(formatProblems(r.problems));
  return r.config;
};
const problems = (text: string, env: NodeJS.ProcessEnv = {}) => {
  const r = parseConfig(text, env);
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
};

t.test('applies Kong defaults, then `defaults`, then the route', async (t) => {
  const config = ok(`
defaults: { aws_region: eu-west-1, timeout: 5000 }
routes:
  - { name: a, function_name: F, match: { path: /a } }
  - { name: b, function_name: G, timeout: 100 }
`);
  t.equal(config.listen, '127.0.0.1:50051', 'pod-local by default');
  t.equal(config.envoy_message_timeout, 200);
  t.equal(config.drain_timeout, 25000);
  t.equal(config.workers, 1, 'one process unless asked');
  const [a, b] = config.routes;
  t.match(a, { aws_region: 'eu-west-1', timeout: 5000, keepalive: 60000, invocation_type: 'RequestResponse', log_type: 'None', port: 443, aws_role_session_name: 'kong', aws_imds_protocol_version: 'v1', skip_large_bodies: true, base64_encode_body: true, awsgateway_compatible_payload_version: '1.0' });
  t.equal(b?.timeout, 100, 'a route field beats defaults');
  t.ok(Object.isFrozen(config) && Object.isFrozen(config.routes[0]), 'frozen');
});

t.test('expands ${ENV} references and reports the missing ones by field', async (t) => {
  const config = ok(`routes: [{ name: a, function_name: F, aws_key: "\${KEY}", aws_secret: "\${SECRET}" }]`, { KEY: 'AKID', SECRET: 's3cr3t' });
  t.equal(config.routes[0]?.aws_key, 'AKID');
  t.equal(config.routes[0]?.aws_secret, 's3cr3t');
  t.same(problems(`routes: [{ name: a, function_name: "\${NOPE}" }]`), ['routes[0].function_name: environment variable NOPE is not set'], 'once, not again as an empty string');
});

t.test('an unset ${VAR} in defaults is reported once, not again in each route that inherits it', async (t) => {
  t.same(problems(`defaults: { aws_region: "\${REGION}" }\nroutes:\n  - { name: a, function_name: F }\n  - { name: b, function_name: G, aws_region: "x y" }`), [
    'defaults.aws_region: environment variable REGION is not set',
    'routes[1].aws_region: must be a hostname without scheme or port',
  ]);
});

t.test("Kong's schema cases (spec 02-schema items 1-11)", async (t) => {
  const base = 'name: r\n    function_name: F\n    aws_region: us-east-1';
  t.same(problems(`routes:\n  - ${base}`), [], '1: no unhandled_status');
  t.same(problems(`routes:\n  - ${base}\n    unhandled_status: 412`), [], '2: unhandled_status 412');
  t.same(problems(`routes:\n  - ${base}\n    unhandled_status: 99`), ['routes[0].unhandled_status: value should be between 100 and 999'], '3: 99');
  t.same(problems(`routes:\n  - ${base}\n    unhandled_status: 1000`), ['routes[0].unhandled_status: value should be between 100 and 999'], '4: 1000');
  t.same(problems(`routes:\n  - ${base}`), [], '5: neither key nor secret');
  t.same(problems(`routes:\n  - ${base}\n    aws_secret: s`), ["routes[0].aws_key: all or none of these fields must be set: 'aws_key', 'aws_secret'"], '6: secret alone');
  t.same(problems(`routes:\n  - ${base}\n    aws_key: k`), ["routes[0].aws_secret: all or none of these fields must be set: 'aws_key', 'aws_secret'"], '7: key alone');
  for (const proxy of ['https://squid:3128', 'ftp://squid:3128', 'wss://squid:3128']) {
    t.same(problems(`routes:\n  - ${base}\n    proxy_url: ${proxy}`), ['routes[0].proxy_url: proxy_url scheme must be http'], `8: ${proxy}`);
  }
  t.same(problems(`routes:\n  - { name: r, function_name: F, host: lambda.us-east-1.amazonaws.com }`), [], '9: host only');
  t.same(problems(`routes:\n  - { name: r, function_name: F }`), [], '10: neither region nor host');
  t.same(problems(`routes:\n  - { name: r, function_name: F, host: example.test, aws_region: us-east-1 }`), [], '11: both');
});

t.test('workers is a whole number from 1 to 64', async (t) => {
  const route = 'routes: [{ name: a, function_name: F }]';
  t.equal(ok(`workers: 4\n${route}`).workers, 4);
  t.match(problems(`workers: 0\n${route}`), [/^workers: Too small: expected number to be >=1/]);
  t.match(problems(`workers: 65\n${route}`), [/^workers: Too big: expected number to be <=64/]);
  t.match(problems(`workers: 1.5\n${route}`), [/^workers: .*int/i]);
  t.match(problems(`workers: two\n${route}`), [/^workers: .*number/i]);
});

t.test('reports every problem at once, each with its field path', async (t) => {
  const found = problems(`
listen: nowhere
colour: blue
routes:
  - name: a
    function_name: F
    timeout: fast
    match: { path_regex: "(" }
  - name: a
    match: { path: /x, path_prefix: /y }
    invocation_type: Sync
`);
  t.same(found.sort(), [
    '(root): unknown field \'colour\'',
    'listen: must be host:port (e.g. 127.0.0.1:50051)',
    'routes[0].match.path_regex: is not a valid regular expression',
    'routes[0].timeout: Invalid input: expected number, received string',
    'routes[1].function_name: is required',
    'routes[1].name: duplicate route name (also routes[0])',
    'routes[1].invocation_type: Invalid option: expected one of "RequestResponse"|"Event"|"DryRun"',
    'routes[1].match: set exactly one of path, path_prefix, path_regex, path_template',
  ].sort());
});

t.test('rejects duplicate route names, bad YAML and an empty route list', async (t) => {
  t.same(problems('routes:\n  - { name: a, function_name: F }\n  - { name: a, function_name: G }'), ['routes[1].name: duplicate route name (also routes[0])']);
  t.same(problems('routes:\n  - name: a\n   function_name: b\n'), ['line 3, column 1: invalid YAML: Sequence item without - indicator'], 'the position once, no excerpt, no dangling colon');
  t.same(problems('routes: []\nroutes: []\n'), ['line 2, column 1: invalid YAML: Map keys must be unique']);
  t.same(problems('routes:\n\t- name: a\n'), ['line 2, column 1: invalid YAML: Tabs are not allowed as indentation']);
  t.same(problems('routes: [ {name: a'), [
    'line 1, column 19: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }',
    'line 1, column 19: invalid YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
  ], 'two brackets left open: one message each');
  t.same(problems('routes: []'), ['routes: must list at least one route']);
  t.same(problems(''), ['routes: is required']);
});

t.test('routes that pass the schema but fail every request: no region, or an ARN in another region', async (t) => {
  const config = ok(`
routes:
  - { name: ok, function_name: F, aws_region: eu-west-1 }
  - { name: nowhere, function_name: F }
  - { name: elsewhere, function_name: "arn:aws:lambda:eu-west-1:123456789012:function:f", aws_region: us-east-1 }
  - { name: custom-host, function_name: F, host: lambda.internal.example }
  - { name: arn-only, function_name: "arn:aws:lambda:eu-central-1:123456789012:function:f" }
  - { name: by-host, function_name: F, host: lambda.ap-south-1.amazonaws.com }
`);
  const NO_REGION = 'no region or host specified: set aws_region (on the route or in defaults), AWS_REGION or AWS_DEFAULT_REGION, a lambda.<region>.amazonaws.com host, or a full function ARN';
  t.same(formatProblems(routeProblems(config.routes, {})).split('\n'), [
    `routes[1].aws_region: ${NO_REGION}`,
    'routes[2].function_name: the function ARN is in eu-west-1 but the route signs for us-east-1 (from aws_region)',
    `routes[3].aws_region: ${NO_REGION}`,
  ]);
  // The environment is read as the server reads it: AWS_REGION gives every route a region, and beats a full ARN's.
  t.same(formatProblems(routeProblems(config.routes, { AWS_REGION: 'eu-west-1' })).split('\n'), [
    'routes[2].function_name: the function ARN is in eu-west-1 but the route signs for us-east-1 (from aws_region)',
    'routes[4].function_name: the function ARN is in eu-central-1 but the route signs for eu-west-1 (from AWS_REGION)',
  ]);
  t.same(routeProblems(config.routes, { AWS_DEFAULT_REGION: 'eu-central-1' }).map((p) => p.path), ['routes[2].function_name'], 'AWS_DEFAULT_REGION too');
  t.same(routeProblems(ok('routes: [{ name: a, function_name: F, aws_region: us-east-1 }]').routes, {}), [], 'a route with a region has none');
});

t.test('a streaming route behind proxy_url fails every request: reported on proxy_url', async (t) => {
  const config = ok(`
defaults: { aws_region: us-east-1, proxy_url: "http://127.0.0.1:3128" }
routes:
  - { name: buffered, function_name: F }
  - { name: streamed, function_name: F, invoke_mode: RESPONSE_STREAM }
`);
  t.same(formatProblems(routeProblems(config.routes, {})).split('\n'), [
    'routes[1].proxy_url: invoke_mode RESPONSE_STREAM does not support proxy_url: streaming routes call Lambda directly',
  ]);
});
