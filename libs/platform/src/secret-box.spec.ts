import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box';

const KEY = 'a-webhook-secret-key-of-some-length';

/** A v1 secret exactly as the former SecretBox sealed it: key = SHA-256(key material), no associated data. */
function sealV1(plaintext: string, tagLength = 16): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', createHash('sha256').update(KEY).digest(), iv, { authTagLength: tagLength });
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

describe('SecretBox (issue 12, low)', () => {
  const box = new SecretBox(KEY);

  it('seals as v2 with a 16-byte tag, bound to its client id', () => {
    const sealed = box.seal('whsec_x', 'alpha');
    expect(sealed).toMatch(/^v2\./);
    expect(Buffer.from(sealed.split('.')[2], 'base64url')).toHaveLength(16);
    expect(box.open(sealed, 'alpha')).toBe('whsec_x');
    // copied onto another client's row, it does not open
    expect(() => box.open(sealed, 'bravo')).toThrow();
    expect(() => new SecretBox('another-key-entirely-here').open(sealed, 'alpha')).toThrow();
  });

  it('derives its key with HKDF, not a bare SHA-256 of the key material', () => {
    const sealed = box.seal('whsec_x', 'alpha');
    const [, iv, tag, ciphertext] = sealed.split('.').map((p) => Buffer.from(p, 'base64url'));
    const cipher = createCipheriv('aes-256-gcm', createHash('sha256').update(KEY).digest(), iv);
    cipher.setAAD(Buffer.from('alpha'));
    const withBareHash = Buffer.concat([cipher.update('whsec_x'), cipher.final()]);
    expect(withBareHash.equals(ciphertext) && cipher.getAuthTag().equals(tag)).toBe(false);
  });

  it('still opens a v1 secret (the migration path), but refuses a truncated tag', () => {
    const legacy = sealV1('whsec_old');
    expect(SecretBox.isCurrent(legacy)).toBe(false);
    expect(box.open(legacy, 'any')).toBe('whsec_old');
    expect(() => box.open(sealV1('whsec_old', 4), 'any')).toThrow('not a sealed secret');
    const [v, iv, tag, ct] = box.seal('whsec_x', 'alpha').split('.');
    const shortTag = Buffer.from(tag, 'base64url').subarray(0, 4).toString('base64url');
    expect(() => box.open([v, iv, shortTag, ct].join('.'), 'alpha')).toThrow('not a sealed secret');
  });
});
