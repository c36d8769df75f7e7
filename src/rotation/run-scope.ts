import { TesseraError } from '../errors.ts';

/** Which accounts a run rotates: exactly one of the three. */
export type RunScope =
  | { readonly target: string; readonly safe?: undefined; readonly all?: undefined }
  | { readonly safe: string; readonly target?: undefined; readonly all?: undefined }
  | { readonly all: true; readonly target?: undefined; readonly safe?: undefined };

/** Refuses a scope that names none or several of target, safe and all. */
export function checkScope(scope: RunScope): void {
  const given = [scope.target, scope.safe, scope.all].filter((v) => v !== undefined).length;
  if (given !== 1) {
    throw new TesseraError('VALIDATION_FAILED', 'give exactly one of target, safe or all');
  }
}

/** The scope as `rotation_runs.scope` stores it (JSON). */
export function parseScope(text: string): RunScope {
  const parsed = JSON.parse(text) as { target?: unknown; safe?: unknown; all?: unknown };
  if (typeof parsed.target === 'string') return { target: parsed.target };
  if (typeof parsed.safe === 'string') return { safe: parsed.safe };
  return { all: true };
}

/** The scope as audit details: named scalar facts only. */
export function scopeDetails(scope: RunScope): Record<string, string> {
  if (scope.target !== undefined) return { scope: 'target', target: scope.target };
  if (scope.safe !== undefined) return { scope: 'safe', safe: scope.safe };
  return { scope: 'all' };
}

/** The scope in a few words, as a run's audit events name their object. */
export function scopeName(scope: RunScope): string {
  if (scope.target !== undefined) return `target ${scope.target}`;
  if (scope.safe !== undefined) return `safe ${scope.safe}`;
  return 'all accounts';
}
