import { mkdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { TesseraError } from '../errors.ts';
import { createRecorder, type Recorder, type RecordingHeaderFields } from '../sessions/recorder.ts';
import { recordingKeyContext } from '../vault/contexts.ts';
import { newKey, open, seal } from '../vault/envelope.ts';
import type { Keyring } from '../vault/keyring.ts';

/** A recording being written: the recorder, where it lives and its wrapped data key. */
export interface OpenedRecording {
  readonly recorder: Recorder;
  /** Relative to the data directory, so a moved data directory keeps its recordings. */
  readonly path: string;
  readonly wrappedKey: Buffer;
}

export interface Recordings {
  /** Creates the file and writes its header; rejects when the recording cannot be written. */
  open(input: {
    sessionId: string;
    header: RecordingHeaderFields;
    onFailure: (error: TesseraError) => void;
    onDrop: (droppedBytes: number) => void;
  }): Promise<OpenedRecording>;
  /** Closes a recording no session was stored for, and removes its file. */
  discard(opened: OpenedRecording): Promise<void>;
  /** The absolute file of a stored relative path. */
  file(relativePath: string): string;
  /** The data key of a session's recording, unwrapped with the root key. */
  dataKey(sessionId: string, wrappedKey: Buffer): Buffer;
}

export const RECORDINGS_DIR = 'recordings';
/** Past this much unwritten session data the recorder drops, and says so in the recording. */
const MAX_BUFFERED_BYTES = 8 * 1024 * 1024;

/**
 * Each recording is encrypted with a fresh data key, wrapped by the root key and stored on the
 * session row: the file alone, copied anywhere, reveals nothing.
 */
export function createRecordings(deps: {
  dataDir: string;
  keyring: Pick<Keyring, 'keys'>;
  logger: Logger;
}): Recordings {
  const root = path.join(deps.dataDir, RECORDINGS_DIR);
  const fileOf = (relativePath: string): string => {
    const resolved = path.resolve(deps.dataDir, relativePath);
    if (!resolved.startsWith(`${root}${path.sep}`))
      throw new Error('recording path outside recordings');
    return resolved;
  };

  return {
    async open(input) {
      const dataKey = newKey();
      try {
        const wrappedKey = seal(
          deps.keyring.keys().rootKey,
          dataKey,
          recordingKeyContext(input.sessionId),
        );
        const relative = path.join(RECORDINGS_DIR, `${input.sessionId}.tsrec`);
        mkdirSync(root, { recursive: true, mode: 0o700 });
        const recorder = await createRecorder({
          path: path.join(deps.dataDir, relative),
          sessionId: input.sessionId,
          dataKey,
          header: input.header,
          maxBufferedBytes: MAX_BUFFERED_BYTES,
          onFailure: input.onFailure,
          onDrop: input.onDrop,
        });
        return { recorder, path: relative, wrappedKey };
      } finally {
        dataKey.fill(0); // the recorder keeps its own copy
      }
    },

    async discard(opened) {
      await opened.recorder.close().catch(() => undefined);
      await rm(fileOf(opened.path), { force: true });
    },

    file: fileOf,

    dataKey(sessionId, wrappedKey) {
      return open(deps.keyring.keys().rootKey, wrappedKey, recordingKeyContext(sessionId));
    },
  };
}
