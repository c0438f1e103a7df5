// The one rule for every response header line that leaves through us: the
// function's proxy-integration headers, multiValueHeaders and 2.0 cookies, and
// Lambda's own response headers passed through in the other modes.
//
// It is Envoy's rule for set_headers entries (HeaderUtility::headerNameIsValid
// and headerValueIsValid, the HTTP/2 adapter's character maps), checked here
// first because Envoy, at the first bad entry of an immediate response, drops
// that header and every one after it and still sends the reply; and because a
// CR/LF that got through anywhere would split the response (header injection).
//   - name: an RFC 9110 token (! # $ % & ' * + - . ^ _ ` | ~ digits letters);
//   - value: HTAB, SP, visible ASCII, and any non-ASCII character (sent as
//     UTF-8, whose bytes are all ≥ 0x80: obs-text, which Envoy passes). Every
//     other control character (NUL, CR, LF, 0x01-0x1F, DEL) is refused.

export type HeaderProblem = 'invalid name' | 'line break' | 'control character';

// 1 for the token characters of ASCII.
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") TOKEN[c.charCodeAt(0)] = 1;

/** Why this header line cannot be sent, or undefined when it can. */
export function headerLineProblem(name: string, value: string): HeaderProblem | undefined {
  if (name.length === 0) return 'invalid name';
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (code >= 128 || TOKEN[code] === 0) return 'invalid name';
  }
  let problem: HeaderProblem | undefined;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09) || code === 0x7f) {
      if (code === 0x0a || code === 0x0d) return 'line break';
      problem = 'control character';
    }
  }
  return problem;
}
