// Turns a credential source's failure into one secret-free line for the log.

/** `Name: first line of the message`, with every known secret value blanked out. */
export function describeFailure(error: unknown, secrets: readonly string[]): string {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n', 1)[0]?.trim() ?? '';
  const text = name === 'Error' || firstLine.startsWith(name) ? firstLine : `${name}: ${firstLine}`;
  return redact(text, secrets);
}

function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  // Short values would blank out ordinary words; real secrets are long.
  for (const secret of secrets) if (secret.length >= 8) result = result.split(secret).join('[redacted]');
  return result;
}

/** Values of the environment that must never be written anywhere. */
export function secretsOf(env: NodeJS.ProcessEnv): string[] {
  const names = ['AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AMAZON_SECRET_ACCESS_KEY', 'AMAZON_SESSION_TOKEN', 'AWS_CONTAINER_AUTHORIZATION_TOKEN'];
  return names.map((name) => env[name]).filter((value): value is string => value !== undefined && value !== '');
}
