// Floor (a+b): both floors' work in one process, and nothing else. Each
// complete ext_proc request makes floor (b)'s signed Invoke with the payload
// the sidecar would send for its body, then gets floor (a)'s fixed answer.
// It shows what one event loop doing both jobs costs before any of the
// sidecar's own work (routing, payload, logs, metrics, errors).
import { checkAnswer, createFloorInvoke } from './floor-invoke';
import { serveFloor } from './floor-server';
import { benchPayload } from './payload-shape';

// The sidecar's pool allows this many connections to one origin; the bench never needs more.
const CONNECTIONS = 256;

const lambdaPort = Number(process.argv[2]);
const invoke = createFloorInvoke(lambdaPort, CONNECTIONS);
const payloads = new Map<number, Buffer>();

serveFloor('joined floor', (bodyBytes, answer, fail) => {
  let payload = payloads.get(bodyBytes);
  if (payload === undefined) {
    payload = benchPayload(bodyBytes);
    payloads.set(bodyBytes, payload);
  }
  const body = payload;
  invoke
    .sign(body)
    .then((headers) => invoke.post(headers, body))
    .then(({ statusCode, body: output }) => {
      checkAnswer(statusCode, output);
      answer();
    })
    .catch((error: unknown) => fail((error as Error).message));
});
