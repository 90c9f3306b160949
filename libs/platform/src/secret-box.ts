import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

const TAG_BYTES = 16;
const IV_BYTES = 12;
/** fixed, public: HKDF's salt and info only separate this key from any other use of the same key material */
const HKDF_SALT = 'purple/secret-box';
const HKDF_INFO = 'aes-256-gcm v2';

/**
 * AES-256-GCM for secrets that must be recoverable (a webhook signing secret signs every delivery), keyed by an
 * operator-held key; a database dump alone reveals nothing.
 *
 * `v2.<iv>.<tag>.<ciphertext>` (base64url): the key is derived from the key material with HKDF-SHA256, the tag is
 * always 16 bytes, and the ciphertext is bound to what it belongs to (the client id) as associated data, so a
 * sealed secret copied onto another client's row does not open there.
 *
 * `v1.…` (a bare SHA-256 of the key material, no associated data) is still opened, so rows written before v2 keep
 * working; {@link SecretBox.isCurrent} tells which to seal again (the api does so at start).
 */
export class SecretBox {
  private readonly key: Buffer;
  private readonly legacyKey: Buffer;

  constructor(keyMaterial: string) {
    if (keyMaterial.length < 16) throw new Error('the secret key must be at least 16 characters');
    this.key = Buffer.from(hkdfSync('sha256', Buffer.from(keyMaterial, 'utf8'), HKDF_SALT, HKDF_INFO, 32));
    this.legacyKey = createHash('sha256').update(keyMaterial).digest();
  }

  /** `associatedData`: what the secret belongs to (a client id); the same must be given to open it */
  seal(plaintext: string, associatedData: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(associatedData, 'utf8'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v2', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
  }

  /** @throws Error when it is not a sealed secret, was sealed with another key, or for something else */
  open(sealed: string, associatedData: string): string {
    const [version, ivText, tagText, ciphertext, extra] = sealed.split('.');
    if ((version !== 'v1' && version !== 'v2') || !ivText || !tagText || ciphertext === undefined || extra !== undefined) {
      throw new Error('not a sealed secret');
    }
    const iv = Buffer.from(ivText, 'base64url');
    const tag = Buffer.from(tagText, 'base64url');
    // a shorter tag would be accepted by GCM and is far easier to forge
    if (tag.length !== TAG_BYTES || iv.length !== IV_BYTES) throw new Error('not a sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', version === 'v2' ? this.key : this.legacyKey, iv, { authTagLength: TAG_BYTES });
    if (version === 'v2') decipher.setAAD(Buffer.from(associatedData, 'utf8'));
    decipher.setAuthTag(tag);
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  }

  /** false for a `v1` secret, which should be sealed again */
  static isCurrent(sealed: string): boolean {
    return sealed.startsWith('v2.');
  }
}
