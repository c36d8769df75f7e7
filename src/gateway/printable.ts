// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the aim
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text from a client or an administrator as a terminal or the audit trail may show it: control
 * characters escaped as `\xNN`, so none can move a cursor or forge a line.
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
