// Envoy gave up on a request: whoever works for it stops. Every invocation
// carries one, so it is a small object rather than an AbortController: the
// controllers, signals and listeners on this path cost the sidecar 5–15 % of
// its CPU per request at load in A/B runs (docs/performance.md). An
// AbortSignal is made only where a library needs one (the AWS SDK path).

export interface Cancellation {
  readonly cancelled: boolean;
  /** Runs `stop` once when the request is cancelled (at once if it already is); returns a function that forgets it. */
  onCancel(stop: () => void): () => void;
  /** The same for an object, without a closure per call: `listener.onCancelled()` once; `unlisten` forgets it. */
  listen(listener: CancelListener): void;
  unlisten(listener: CancelListener): void;
}

export interface CancelListener {
  onCancelled(): void;
}

export interface CancellationSource extends Cancellation {
  cancel(): void;
}

type Stop = (() => void) | CancelListener;

// A class: one object per request, its methods on the prototype.
class RequestCancellation implements CancellationSource {
  #cancelled = false;
  // An invocation registers one or two stops: a short array, made on first use.
  #stops: Stop[] | undefined;

  get cancelled(): boolean {
    return this.#cancelled;
  }

  onCancel(stop: () => void): () => void {
    if (this.#cancelled) {
      stop();
      return () => undefined;
    }
    (this.#stops ??= []).push(stop);
    return () => this.#forget(stop);
  }

  listen(listener: CancelListener): void {
    if (this.#cancelled) listener.onCancelled();
    else (this.#stops ??= []).push(listener);
  }

  unlisten(listener: CancelListener): void {
    this.#forget(listener);
  }

  cancel(): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    const registered = this.#stops ?? [];
    this.#stops = undefined;
    for (const stop of registered) {
      if (typeof stop === 'function') stop();
      else stop.onCancelled();
    }
  }

  #forget(stop: Stop): void {
    const stops = this.#stops;
    if (stops === undefined) return;
    const index = stops.lastIndexOf(stop);
    // The last one (the usual case) without splice's array of removed items.
    if (index === stops.length - 1) stops.pop();
    else if (index !== -1) stops.splice(index, 1);
  }
}

export function createCancellation(): CancellationSource {
  return new RequestCancellation();
}

/** An AbortSignal that follows `cancellation`, for an API that takes one; call `release` when done. */
export function toAbortSignal(cancellation: Cancellation): { readonly signal: AbortSignal; release(): void } {
  const controller = new AbortController();
  const release = cancellation.onCancel(() => controller.abort());
  return { signal: controller.signal, release };
}
