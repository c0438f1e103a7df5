// The invocation payload lambda-extproc sends for the bench route (Kong's
// forward_request_* object, octet-stream body base64-encoded), so floor (b)
// moves the same bytes to the fake as the sidecar does.
import { ROUTE_PATH } from './fixtures';

export function benchPayload(bodyBytes: number): Buffer {
  const hasBody = bodyBytes > 0;
  const body = Buffer.alloc(bodyBytes, 0x61);
  return Buffer.from(
    JSON.stringify({
      request_method: hasBody ? 'POST' : 'GET',
      request_headers: {
        host: 'api.example.com',
        'user-agent': 'lambda-extproc-bench/1',
        accept: '*/*',
        ...(hasBody ? { 'content-type': 'application/octet-stream', 'content-length': String(bodyBytes) } : {}),
        'x-forwarded-proto': 'https',
        'x-request-id': '7f0c6a52-3d0e-4b8f-9a61-2b1d7c9e0a11',
      },
      request_uri: `${ROUTE_PATH}?bench=1`,
      request_uri_args: { bench: '1' },
      request_body: body.toString('base64'),
      request_body_base64: true,
      request_body_args: {},
    }),
    'utf8',
  );
}
