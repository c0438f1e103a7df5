// A CommonJS function that answers with the event it got, to show what the
// sidecar sends Lambda for a request (Kong's payload shape: request_method,
// request_uri, request_headers, request_body, ...).
exports.handler = async (event) => event;
