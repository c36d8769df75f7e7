import { z } from 'zod';
import { SAFE_PERMISSIONS } from '../access/permissions.ts';
import { ROLES } from '../identity/principal.ts';

/** Shared building blocks of the API's schemas. Every string has a maximum length. */
export const name = z
  .string()
  .min(1)
  .max(128)
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._-]*$/,
    'letters, digits, dot, dash and underscore; starts with a letter or digit',
  );
export const accountUsername = z
  .string()
  .min(1)
  .max(128)
  .refine((v) => !/[\0\r\n]/.test(v), 'no control characters')
  .refine((v) => v !== '.' && v !== '..', 'not . or .., which URLs cannot address');
export const reason = z.string().trim().min(1, 'a reason is required').max(500);
export const password = z.string().min(1).max(1024);
export const secretValue = z
  .string()
  .min(1)
  .max(8192)
  .refine((v) => !v.includes('\0'), 'no NUL character');
export const role = z.enum(ROLES);
export const permission = z.enum(SAFE_PERMISSIONS);
export const timestamp = z.string().describe('ISO 8601 time');
export const uuid = z.uuid();

export const errorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    details: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .optional(),
  }),
});

/** Every route answers these errors besides its own success responses. */
export function responses<T extends Record<number, z.ZodType>>(success: T) {
  return {
    ...success,
    400: errorBody,
    401: errorBody,
    403: errorBody,
    404: errorBody,
    409: errorBody,
    429: errorBody,
    500: errorBody,
    502: errorBody,
    503: errorBody,
  };
}

export function iso(ms: number): string;
export function iso(ms: number | null): string | null;
export function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
