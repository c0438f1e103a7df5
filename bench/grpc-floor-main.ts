// Floor (a): the least an ext_proc server can do (floor-server.ts), a process
// of its own. It answers every complete request at once and calls nothing.
import { serveFloor } from './floor-server';

serveFloor('grpc floor', (_bodyBytes, answer) => answer());
