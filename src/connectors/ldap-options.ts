/**
 * The options of an LDAP target: where its entries live, how a user name becomes a DN, which
 * groups make an account privileged, and how the connection is protected.
 */
import { z } from 'zod';
import type { TargetOptions } from './connector.ts';
import { isDn, parseDn } from './ldap-dn.ts';
import {
  DEFAULT_SSL_MODE,
  rootCertNeedsVerification,
  type SslMode,
  tlsOptionFields,
  tlsOptionsView,
} from './tls-options.ts';

/** The placeholder in `userDnTemplate` that the RFC 4514-escaped user name replaces. */
export const USERNAME_PLACEHOLDER = '{username}';
/** Directories allow long DNs; these limits only keep a target row and a request small. */
const MAX_DN_LENGTH = 1024;
const MAX_PRIVILEGED_GROUPS = 50;
const ATTRIBUTE_NAME = /^[A-Za-z][A-Za-z0-9-]{0,63}$/;
/** `<attribute>={username},<parent DN>`: the user name is the value of the first RDN. */
const TEMPLATE_SHAPE = /^[A-Za-z][A-Za-z0-9-]*=\{username\},/;

const dnOption = z
  .string()
  .max(MAX_DN_LENGTH, `at most ${MAX_DN_LENGTH} characters`)
  .refine(isDn, 'a distinguished name as RFC 4514 writes it, e.g. dc=example,dc=org');

const templateOption = z
  .string()
  .max(MAX_DN_LENGTH, `at most ${MAX_DN_LENGTH} characters`)
  .refine(isUserDnTemplate, 'uid={username},<parent DN>: {username} once, as the first value');

export const ldapOptionsSchema = z
  .strictObject({
    baseDn: dnOption,
    userAttribute: z
      .string()
      .regex(ATTRIBUTE_NAME, 'an attribute name such as uid or cn')
      .optional(),
    userDnTemplate: templateOption.optional(),
    privilegedGroups: z
      .array(dnOption)
      .max(MAX_PRIVILEGED_GROUPS, `at most ${MAX_PRIVILEGED_GROUPS} groups`)
      .optional(),
    scheme: z.enum(['ldap', 'ldaps']).optional(),
    ...tlsOptionFields,
  })
  .superRefine((options, context) => {
    rootCertNeedsVerification(options, context);
    if (options.scheme === 'ldaps' && (options.sslmode ?? DEFAULT_SSL_MODE) === 'disable') {
      context.addIssue({
        code: 'custom',
        path: ['sslmode'],
        message: 'scheme ldaps needs sslmode require, verify-ca or verify-full',
      });
    }
  });

/** The options with their defaults applied, as the connector uses them. */
export interface LdapSettings {
  readonly baseDn: string;
  readonly userAttribute: string;
  readonly userDnTemplate: string | undefined;
  readonly privilegedGroups: readonly string[];
  readonly scheme: 'ldap' | 'ldaps';
  readonly sslmode: SslMode;
  readonly sslrootcert: string | undefined;
}

/** Reads a target's options again; a text reason when they no longer pass the schema. */
export function ldapSettings(options: TargetOptions): LdapSettings | string {
  const parsed = ldapOptionsSchema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.join('.') || 'options';
    return `the target's LDAP options are invalid (${where}: ${issue?.message ?? 'unknown'})`;
  }
  const value = parsed.data;
  return {
    baseDn: value.baseDn,
    userAttribute: value.userAttribute ?? 'uid',
    userDnTemplate: value.userDnTemplate,
    privilegedGroups: value.privilegedGroups ?? [],
    scheme: value.scheme ?? 'ldap',
    sslmode: value.sslmode ?? DEFAULT_SSL_MODE,
    sslrootcert: value.sslrootcert,
  };
}

/** The options as the API shows them: the certificate reduced to "set or not", groups joined. */
export function ldapOptionsView(
  options: TargetOptions,
): Readonly<Record<string, string | number | boolean | null>> {
  const groups = Array.isArray(options.privilegedGroups) ? options.privilegedGroups : [];
  return {
    baseDn: typeof options.baseDn === 'string' ? options.baseDn : null,
    userAttribute: typeof options.userAttribute === 'string' ? options.userAttribute : 'uid',
    userDnTemplate: typeof options.userDnTemplate === 'string' ? options.userDnTemplate : null,
    scheme: options.scheme === 'ldaps' ? 'ldaps' : 'ldap',
    ...tlsOptionsView(options),
    privilegedGroups: groups.join('; '),
    privilegedGroupCount: groups.length,
  };
}

function isUserDnTemplate(template: string): boolean {
  if (!TEMPLATE_SHAPE.test(template)) return false;
  if (template.split(USERNAME_PLACEHOLDER).length !== 2) return false;
  const rdns = parseDn(template.replace(USERNAME_PLACEHOLDER, 'x'));
  return rdns !== undefined && rdns.length >= 2;
}
