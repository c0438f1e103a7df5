// A streaming Lambda for a child process (`node -e STREAMING_FUNCTION [total]`,
// run from the repo root), so a test's own RSS is the consuming side's alone:
// a plain HTTP server answering every request with `total` bytes of
// PayloadChunk events (64 KiB each, the SDK's codec) then InvokeComplete, at
// the pace its socket drains. `total` is the argument, or else the one long
// number in the request's payload. It prints its port. SigV4 is the other
// fakes' business; here only bytes matter.
export const STREAMING_FUNCTION = `
const http = require('node:http');
const { EventStreamCodec } = require('@smithy/core/event-streams');
const codec = new EventStreamCodec((b) => Buffer.from(b).toString('utf8'), (s) => Buffer.from(s, 'utf8'));
const str = (value) => ({ type: 'string', value });
const frame = (type, body) => Buffer.from(codec.encode({ headers: { ':event-type': str(type), ':content-type': str('application/octet-stream'), ':message-type': str('event') }, body }));
const chunk = frame('PayloadChunk', Buffer.alloc(64 * 1024, 0x62));
const fixed = process.argv[1];
const server = http.createServer((req, res) => {
  const body = [];
  req.on('data', (d) => body.push(d));
  req.on('end', () => {
    const total = fixed !== undefined ? Number(fixed) : Number(/(\\d{4,})/.exec(Buffer.concat(body).toString())?.[1] ?? 0);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-amzn-requestid': 'r' });
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += 64 * 1024;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      res.end(frame('InvokeComplete', Buffer.from('{}')));
    };
    pump();
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
`;
