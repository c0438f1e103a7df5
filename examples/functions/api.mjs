// An API Gateway proxy-integration function: the route sets
// awsgateway_compatible (the event is API Gateway's REST event) and
// is_proxy_integration (the answer's statusCode, headers and body become the
// HTTP response).
export const handler = async (event) => {
  const name = event.queryStringParameters?.name ?? 'world';
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'x-handled-by': 'examples/functions/api.mjs' },
    body: JSON.stringify({ hello: name, method: event.httpMethod, path: event.path }),
  };
};
