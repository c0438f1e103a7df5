// The smallest function: an ES module whose `handler` returns a JSON value.
// Lambda serializes what the handler returns; the sidecar hands it to the client.
export const handler = async (event, context) => {
  console.log(`hello from ${context.functionName} (request ${context.awsRequestId})`);
  return { message: 'hello from lambda-extproc' };
};
