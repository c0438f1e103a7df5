// Envoy gave up on a request: whoever works for it stops. Every invocation
// carries one, so it is a closure rather than an AbortController: the
// controllers, signals and listeners on this path cost the sidecar 5–15 % of
// its CPU per request at load in A/B runs (docs/performance.md). An
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
  // An invocation registers one or two stops: a short array, made on first use.
  let stops: Array<() => void> | undefined;
  return {
    get cancelled() {
      return cancelled;
    },
    onCancel(stop) {
      if (cancelled) {
        stop();
        return () => undefined;
      }
      (stops ??= []).push(stop);
      return () => {
        const index = stops === undefined ? -1 : stops.indexOf(stop);
        if (index !== -1) stops?.splice(index, 1);
      };
    },
    cancel() {
      if (cancelled) return;
      cancelled = true;
      const registered = stops ?? [];
      stops = undefined;
      for (const stop of registered) stop();
    },
  };
}

/** An AbortSignal that follows `cancellation`, for an API that takes one; call `release` when done. */
export function toAbortSignal(cancellation: Cancellation): { readonly signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const release = cancellation.onCancel(() => controller.abort());
  return { signal: controller.signal, release };
}
