// Header bytes → text: UTF-8, or latin1 for the whole value when the bytes
// are not valid UTF-8; ASCII unchanged. Envoy's raw_value and Node's latin1
// header text read alike.
import t from 'tap';
import { headerTextFromBytes, headerTextFromLatin1 } from '../../src/header-text';
import { readHeaderMap } from '../../src/extproc/headers';

t.test('headerTextFromBytes: ASCII, UTF-8, and latin1 for bytes that are not UTF-8', async (t) => {
  t.equal(headerTextFromBytes(Buffer.from('application/json')), 'application/json');
  t.equal(headerTextFromBytes(Buffer.alloc(0)), '');
  t.equal(headerTextFromBytes(Buffer.from('José ☃ 😀', 'utf8')), 'José ☃ 😀');
  t.equal(headerTextFromBytes(Buffer.from([0x4a, 0x6f, 0x73, 0xe9])), 'José', 'ISO-8859-1 bytes');
  t.equal(headerTextFromBytes(Buffer.from([0xc3])), '\u00c3', 'a cut UTF-8 sequence: the whole value as latin1');
  t.equal(headerTextFromBytes(Buffer.from([0xed, 0xa0, 0x80])), '\u00ed\u00a0\u0080', 'an encoded surrogate is not UTF-8');
  t.equal(headerTextFromBytes(Buffer.from('a\u00e9', 'utf8').subarray(0, 2)), 'a\u00c3');
});

t.test('headerTextFromLatin1: node:http/undici latin1 text read as the same bytes', async (t) => {
  t.equal(headerTextFromLatin1('plain'), 'plain');
  t.equal(headerTextFromLatin1(Buffer.from('café', 'utf8').toString('latin1')), 'café');
  t.equal(headerTextFromLatin1('Jos\u00e9'), 'Jos\u00e9', 'a latin1 byte that is not UTF-8 stays');
});

t.test('readHeaderMap reads raw_value as UTF-8 for pseudo and regular headers; value (a proto string) as is', async (t) => {
  const split = readHeaderMap({
    headers: [
      { key: ':path', raw_value: Buffer.from('/caf\u00e9', 'utf8') },
      { key: 'X-Name', raw_value: Buffer.from('José', 'utf8') },
      { key: 'x-latin1', raw_value: Buffer.from([0xe9]) },
      { key: 'x-legacy', value: 'Zoë' },
    ],
  });
  t.equal(split.pseudo.path, '/café');
  t.strictSame(split.regular, [
    ['x-name', 'José'],
    ['x-latin1', '\u00e9'],
    ['x-legacy', 'Zoë'],
  ]);
});
