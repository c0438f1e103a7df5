// Addresses given to `lambda-extproc dev` flags: a bare port means loopback.

/** `8000` → `127.0.0.1:8000`; `host:port` as given; anything else is a usage error (undefined). */
export function parseDevAddress(value: string): string | undefined {
  const bare = /^\d{1,5}$/.exec(value);
  if (bare !== null) return Number(value) <= 65535 ? `127.0.0.1:${Number(value)}` : undefined;
  const found = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/.exec(value);
  if (found === null || Number(found[3]) > 65535) return undefined;
  return `${found[1]}:${Number(found[3])}`;
}

/** The usage message for a flag whose value parseDevAddress refused. */
export function badAddressMessage(flag: string, value: string): string {
  return `${flag} takes PORT or HOST:PORT (e.g. 8000 or 127.0.0.1:8000), got "${value}"`;
}
