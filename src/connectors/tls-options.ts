/**
 * TLS settings that several platforms share, with libpq's names and meanings: `disable` sends
 * everything in clear, `require` encrypts without checking who answers, `verify-ca` checks the
 * certificate chain against `sslrootcert`, `verify-full` also checks the host name.
 */
import { X509Certificate } from 'node:crypto';
import { z } from 'zod';

export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];
/**
 * A target made without options is reached without TLS, because many servers (and the tests'
 * throw-away servers) serve none. The README tells every production target to set verify-full.
 */
export const DEFAULT_SSL_MODE: SslMode = 'disable';
/**
 * A target's trust anchors are a few certificates, never a whole public trust store; the limit
 * also keeps a request well inside the API's 64 KiB body limit.
 */
export const MAX_ROOT_CERT_LENGTH = 32 * 1024;

const PEM_CERTIFICATE =
  /-----BEGIN CERTIFICATE-----\r?\n(?:[A-Za-z0-9+/=]{1,76}\r?\n)+-----END CERTIFICATE-----/g;

export const sslModeOption = z.enum(SSL_MODES);
export const rootCertificatesOption = z
  .string()
  .max(MAX_ROOT_CERT_LENGTH, `at most ${MAX_ROOT_CERT_LENGTH} characters`)
  .refine(isCertificateBundle, 'PEM certificates (BEGIN CERTIFICATE blocks) and nothing else');

/** The TLS fields of a platform's option schema. */
export const tlsOptionFields = {
  sslmode: sslModeOption.optional(),
  sslrootcert: rootCertificatesOption.optional(),
};

/** A refinement for option schemas with {@link tlsOptionFields}. */
export function rootCertNeedsVerification(
  options: { readonly sslmode?: SslMode | undefined; readonly sslrootcert?: string | undefined },
  context: z.RefinementCtx,
): void {
  // With disable or require no certificate is checked; keeping one there would only look safe.
  const verifies = options.sslmode === 'verify-ca' || options.sslmode === 'verify-full';
  if (options.sslrootcert === undefined || verifies) return;
  context.addIssue({
    code: 'custom',
    path: ['sslrootcert'],
    message: 'is used only with sslmode verify-ca or verify-full',
  });
}

/** The TLS options as the API shows them: the certificate text is reduced to "set or not". */
export function tlsOptionsView(options: Readonly<Record<string, unknown>>): {
  sslmode: SslMode;
  sslrootcertSet: boolean;
} {
  return {
    sslmode: SSL_MODES.find((mode) => mode === options.sslmode) ?? DEFAULT_SSL_MODE,
    sslrootcertSet: typeof options.sslrootcert === 'string',
  };
}

/**
 * Node TLS settings for a mode: `false` for disable; otherwise the CA list and whether the
 * host name is checked. `verify-ca` checks the chain only.
 */
export function tlsSettings(
  options: Readonly<Record<string, unknown>>,
): false | { rejectUnauthorized: boolean; ca?: string; checkServerIdentity?: () => undefined } {
  const ca = typeof options.sslrootcert === 'string' ? options.sslrootcert : undefined;
  switch (options.sslmode ?? DEFAULT_SSL_MODE) {
    case 'require':
      return { rejectUnauthorized: false };
    case 'verify-ca':
      return {
        rejectUnauthorized: true,
        ...(ca ? { ca } : {}),
        checkServerIdentity: () => undefined,
      };
    case 'verify-full':
      return { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
    default:
      return false;
  }
}

function isCertificateBundle(text: string): boolean {
  const blocks = text.match(PEM_CERTIFICATE) ?? [];
  const rest = text.replace(PEM_CERTIFICATE, '').trim();
  return blocks.length > 0 && rest === '' && blocks.every(parsesAsCertificate);
}

function parsesAsCertificate(pem: string): boolean {
  try {
    return new X509Certificate(pem).raw.length > 0;
  } catch {
    return false; // a block of the right shape whose content is not a certificate
  }
}
