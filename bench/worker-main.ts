// The load generator process: runs one job at a time for the orchestrator
// (Envoy-like ext_proc load, or the invoke floor) and sends the result back.
import { createExtProcCodec } from './ext-proc-codec';
import { runExtProcLoad } from './ext-proc-load';
import { runInvokeFloor } from './invoke-floor';
import { primeProcStats } from './proc-stats';
import type { Job, JobResult, WorkerReply, WorkerRequest } from './protocol';

const codec = createExtProcCodec();
primeProcStats();

function run(job: Job): Promise<JobResult> {
  return job.kind === 'extproc' ? runExtProcLoad(job, codec) : runInvokeFloor(job);
}

process.on('message', (request: WorkerRequest) => {
  run(request.job).then(
    (result) => process.send?.({ id: request.id, result } satisfies WorkerReply),
    (error: unknown) => process.send?.({ id: request.id, error: (error as Error).stack ?? String(error) } satisfies WorkerReply),
  );
});
process.on('disconnect', () => process.exit(0));
process.send?.({ ready: true });
