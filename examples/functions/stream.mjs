// A response-streaming function, written as for Lambda's Node runtime:
// awslambda.streamifyResponse wraps the handler, HttpResponseStream.from sets
// the status and headers (the route has is_proxy_integration: true), and each
// write reaches the client as it is made: `curl -N` shows one line a second.
export const handler = awslambda.streamifyResponse(async (event, responseStream, context) => {
  const stream = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 200,
    headers: { 'content-type': 'text/plain; charset=utf-8', 'x-handled-by': 'examples/functions/stream.mjs' },
  });
  const lines = Number(event.queryStringParameters?.lines ?? 5);
  for (let i = 1; i <= lines; i++) {
    stream.write(`line ${i} of ${lines} from ${context.functionName}\n`);
    if (i < lines) await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  stream.end();
});
