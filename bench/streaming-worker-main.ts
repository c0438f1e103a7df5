// The streaming bench's load generator process: runs one job at a time for
// the orchestrator (bench/streaming.ts) and sends the result back over IPC.
import { createExtProcCodec } from './ext-proc-codec';
import { runBulk, runFirstChunk, type BulkResult, type FirstChunkResult, type StreamingJob } from './streaming-load';

export interface StreamingRequest {
  readonly id: number;
  readonly job: StreamingJob;
}

export type StreamingReply = { readonly id: number; readonly result: FirstChunkResult | BulkResult } | { readonly id: number; readonly error: string };

const codec = createExtProcCodec();

process.on('message', (request: StreamingRequest) => {
  const running = request.job.kind === 'first-chunk' ? runFirstChunk(request.job, codec) : runBulk(request.job, codec);
  running.then(
    (result) => process.send?.({ id: request.id, result } satisfies StreamingReply),
    (error: unknown) => process.send?.({ id: request.id, error: (error as Error).stack ?? String(error) } satisfies StreamingReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
