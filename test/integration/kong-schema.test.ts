// Kong's 02-schema_spec (items 1-11) against our config validator, plus the
// route fields lambda-extproc adds.
import t from 'tap';
import { parseConfig } from '../../src/config/load';

function problemsOf(fields: string): string[] {
  const r = parseConfig(`routes:\n  - name: r\n    function_name: my-function\n${fields.replace(/^/gm, '    ')}\n`, {});
  return r.ok ? [] : r.problems.map((p) => `${p.path}: ${p.message}`);
}

const cases: Array<{ name: string; fields: string; problems: string[] }> = [
  { name: 'accepts a route without unhandled_status (Kong #1)', fields: 'aws_region: us-east-1', problems: [] },
  { name: 'accepts unhandled_status 412 (Kong #2)', fields: 'aws_region: us-east-1\nunhandled_status: 412', problems: [] },
  { name: 'rejects unhandled_status 99 with Kong\'s message (Kong #3)', fields: 'unhandled_status: 99', problems: ['routes[0].unhandled_status: value should be between 100 and 999'] },
  { name: 'rejects unhandled_status 1000 with Kong\'s message (Kong #4)', fields: 'unhandled_status: 1000', problems: ['routes[0].unhandled_status: value should be between 100 and 999'] },
  { name: 'accepts neither aws_key nor aws_secret (Kong #5)', fields: 'aws_region: us-east-1', problems: [] },
  { name: 'rejects aws_secret without aws_key (Kong #6)', fields: 'aws_secret: s', problems: ["routes[0].aws_key: all or none of these fields must be set: 'aws_key', 'aws_secret'"] },
  { name: 'rejects aws_key without aws_secret (Kong #7)', fields: 'aws_key: k', problems: ["routes[0].aws_secret: all or none of these fields must be set: 'aws_key', 'aws_secret'"] },
  { name: 'rejects an https proxy_url (Kong #8)', fields: 'proxy_url: https://squid:3128', problems: ['routes[0].proxy_url: proxy_url scheme must be http'] },
  { name: 'rejects an ftp proxy_url (Kong #8)', fields: 'proxy_url: ftp://squid:3128', problems: ['routes[0].proxy_url: proxy_url scheme must be http'] },
  { name: 'rejects a wss proxy_url (Kong #8)', fields: 'proxy_url: wss://squid:3128', problems: ['routes[0].proxy_url: proxy_url scheme must be http'] },
  { name: 'accepts an http proxy_url', fields: 'proxy_url: http://squid:3128', problems: [] },
  { name: 'accepts host without region (Kong #9)', fields: 'host: custom.lambda.endpoint', problems: [] },
  { name: 'accepts neither region nor host (Kong #10; checked per request)', fields: 'timeout: 100', problems: [] },
  { name: 'accepts both region and host (Kong #11)', fields: 'aws_region: us-east-1\nhost: custom.lambda.endpoint', problems: [] },
  { name: 'rejects a host with a port, as Kong\'s host type does', fields: 'host: lambda.local:9000', problems: ['routes[0].host: must be a hostname without scheme or port'] },
  { name: 'rejects a port above 65535', fields: 'port: 70000', problems: ['routes[0].port: Too big: expected number to be <=65535'] },
  { name: 'rejects an unknown invocation_type', fields: 'invocation_type: Sync', problems: ['routes[0].invocation_type: Invalid option: expected one of "RequestResponse"|"Event"|"DryRun"'] },
  { name: 'rejects payload version 3.0', fields: "awsgateway_compatible_payload_version: '3.0'", problems: ['routes[0].awsgateway_compatible_payload_version: Invalid option: expected one of "1.0"|"2.0"'] },
  { name: 'accepts handled_status and preserve_lambda_api_error_code', fields: 'handled_status: 422\npreserve_lambda_api_error_code: true', problems: [] },
  { name: 'rejects handled_status 1000 with the unhandled_status message', fields: 'handled_status: 1000', problems: ['routes[0].handled_status: value should be between 100 and 999'] },
  { name: 'accepts a path_template', fields: "match: { path_template: '/site/{slug}/{proxy+}' }", problems: [] },
  { name: 'rejects a malformed path_template', fields: "match: { path_template: '/site/{slug' }", problems: ['routes[0].match.path_template: must look like /site/{slug} or /api/{proxy+}'] },
  { name: 'rejects a removed Kong field (proxy_scheme) as unknown', fields: 'proxy_scheme: https', problems: ["routes[0]: unknown field 'proxy_scheme'"] },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    t.strictSame(problemsOf(c.fields), c.problems);
  });
}

t.test("applies Kong's defaults, with log_type None and empty_arrays_mode correct as deliberate differences", async (t) => {
  const r = parseConfig('routes:\n  - { name: r, function_name: f }\n', {});
  if (!r.ok) throw new Error('invalid');
  t.match(r.config.routes[0], {
    timeout: 60000,
    keepalive: 60000,
    aws_role_session_name: 'kong',
    aws_imds_protocol_version: 'v1',
    invocation_type: 'RequestResponse',
    log_type: 'None',
    port: 443,
    disable_https: false,
    forward_request_method: false,
    forward_request_uri: false,
    forward_request_headers: false,
    forward_request_body: false,
    is_proxy_integration: false,
    awsgateway_compatible: false,
    awsgateway_compatible_payload_version: '1.0',
    skip_large_bodies: true,
    max_body_size: 6291456,
    base64_encode_body: true,
    empty_arrays_mode: 'correct',
    preserve_lambda_api_error_code: false,
  });
});
