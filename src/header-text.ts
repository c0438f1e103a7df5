// Header bytes ⇄ text. HTTP header values are bytes: Envoy passes them through
// untouched (raw_value; its codecs accept any byte ≥ 0x80 as obs-text), and
// clients send non-ASCII text as UTF-8. So bytes are read as UTF-8 and written
// as UTF-8, both ways.
//
// Bytes that are not valid UTF-8 (an old client's ISO-8859-1, or garbage) are
// read as latin1, the whole value, one character per byte: nothing is lost or
// replaced, a function can get the exact bytes back (Buffer.from(v, 'latin1')),
// it is what RFC 9110 §5.5 says such bytes historically meant, and the text is
// always well-formed, so the JSON payload stays valid UTF-8. (Replacing bad
// sequences with U+FFFD would destroy the bytes for good.)
import { isUtf8 } from 'node:buffer';

/** Text of header bytes: UTF-8, or latin1 when the bytes are not valid UTF-8. */
export function headerTextFromBytes(raw: Buffer): string {
  // Nearly every value is ASCII: a byte loop beats isAscii()'s call for short values.
  for (let i = 0; i < raw.length; i++) {
    if ((raw[i] as number) >= 0x80) return isUtf8(raw) ? raw.toString('utf8') : raw.toString('latin1');
  }
  return raw.toString('latin1');
}

/**
 * Node's HTTP parsers (node:http, undici) hand header values over as latin1
 * text, one character per byte. This reads those bytes as headerTextFromBytes does.
 */
export function headerTextFromLatin1(value: string): string {
  for (let i = 0; i < value.length; i++) {
    if (value.charCodeAt(i) >= 0x80) return headerTextFromBytes(Buffer.from(value, 'latin1'));
  }
  return value;
}
