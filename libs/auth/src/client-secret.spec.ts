import { decoySecretHash, generateClientSecret, hashClientSecret, verifyClientSecret } from './client-secret';

const CHEAP = { N: 1024, r: 8, p: 1 };

describe('client secrets', () => {
  it('are 32 random bytes, base64url', () => {
    const secret = generateClientSecret();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(generateClientSecret()).not.toBe(secret);
  });

  it('are stored as a salted scrypt hash that verifies only the same secret', async () => {
    const hash = await hashClientSecret('s3cret', CHEAP);
    expect(hash).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    expect(hash).not.toContain('s3cret');
    expect(await verifyClientSecret('s3cret', hash)).toBe(true);
    expect(await verifyClientSecret('s3cret!', hash)).toBe(false);
    expect(await hashClientSecret('s3cret', CHEAP)).not.toBe(hash); // per-secret salt
  });

  it('uses N = 2^15 by default, read back from the stored string', async () => {
    const hash = await hashClientSecret('x');
    expect(hash.split('$').slice(1, 4)).toEqual(['32768', '8', '1']);
    expect(await verifyClientSecret('x', hash)).toBe(true);
  });

  it('treats a malformed stored hash as no match', async () => {
    for (const stored of ['', 'plain', 'bcrypt$1$2$3$4$5', 'scrypt$x$8$1$c2FsdA$aGFzaA', 'scrypt$1024$8$1$c2FsdA$c2hvcnQ']) {
      expect(await verifyClientSecret('x', stored)).toBe(false);
    }
  });

  it('has a decoy hash that no secret matches', async () => {
    expect(await verifyClientSecret('', await decoySecretHash())).toBe(false);
    expect(await decoySecretHash()).toBe(await decoySecretHash());
  });
});
