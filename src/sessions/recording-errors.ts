import { TesseraError } from '../errors.ts';

/** The recording cannot be written: the session must not go on unrecorded. */
export function recordingUnavailable(message: string, cause?: unknown): TesseraError {
  return new TesseraError('RECORDING_UNAVAILABLE', message, undefined, { cause });
}

/** The recording file is not what Tessera wrote: altered, foreign, or opened with another key. */
export function recordingCorrupt(message: string, frame?: number): TesseraError {
  const details = frame === undefined ? undefined : { frame };
  return new TesseraError('INTEGRITY_FAILURE', message, details);
}

/** The errno code of a file-system error (ENOSPC, EROFS...): safe to show, unlike its path. */
export function ioErrorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : 'I/O error';
}
