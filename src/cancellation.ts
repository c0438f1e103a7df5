// Envoy gave up on a request: whoever works for it stops. Every invocation
// carries one, so it is a closure rather than an AbortController: the
// controllers, signals and listeners on this path cost the sidecar 5–15 % of
// its CPU per request at load in A/B runs (README, Performance). An
// AbortSignal is made only where a library needs one (the AWS SDK path).

export interface Cancellation {
  readonly cancelled: boolean;
  /** Runs `stop` once when the request is cancelled (at once if it already is); returns a function that forgets it. */
  onCancel(stop: () => void): () => void;
}

export interface CancellationSource extends Cancellation {
  cancel(): void;
}

export function createCancellation(): CancellationSource {
  let cancelled = false;
  const stops = new Set<() => void>();
  return {
    get cancelled() {
      return cancelled;
    },
    onCancel(stop) {
      if (cancelled) {
        stop();
        return () => undefined;
      }
      stops.add(stop);
      return () => stops.delete(stop);
    },
    cancel() {
      if (cancelled) return;
      cancelled = true;
      for (const stop of stops) stop();
      stops.clear();
    },
  };
}

/** An AbortSignal that follows `cancellation`, for an API that takes one; call `release` when done. */
export function toAbortSignal(cancellation: Cancellation): { readonly signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const release = cancellation.onCancel(() => controller.abort());
  return { signal: controller.signal, release };
}
