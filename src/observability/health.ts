// Serving state shared by the gRPC health service and /readyz.

export type ServingStatus = 'SERVING' | 'NOT_SERVING';

export interface HealthState {
  status(): ServingStatus;
  set(status: ServingStatus): void;
  /** Calls back on every change; returns the unsubscribe function. */
  watch(listener: (status: ServingStatus) => void): () => void;
}

export function createHealthState(initial: ServingStatus = 'NOT_SERVING'): HealthState {
  let current = initial;
  const listeners = new Set<(status: ServingStatus) => void>();
  return {
    status: () => current,
    set(status) {
      if (status === current) return;
      current = status;
      for (const listener of listeners) listener(status);
    },
    watch(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
