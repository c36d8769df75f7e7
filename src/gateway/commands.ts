import { TextDecoder } from 'node:util';
import { createCommandTracker } from '../sessions/commands.ts';

/** Follows a shell session's bytes both ways and reports each command submitted at the prompt. */
export interface CommandWatch {
  input(data: Buffer): void;
  output(data: Buffer): void;
  resize(cols: number): void;
  /** The session ended: lines still waiting for their echo are settled. */
  finish(): void;
}

export type CommandTrackers = (
  width: number,
  onCommand: (command: string, offsetMs: number) => void,
) => CommandWatch;

/**
 * Feeds the session's raw bytes to the command tracker, decoded as the recorder decodes them
 * (a character split across packets is held until whole). It runs whether or not the session is
 * recorded or keystrokes are, so the command index never depends on the recording.
 */
export function createCommandTrackers(
  now: () => number = () => performance.now(),
): CommandTrackers {
  return (width, onCommand) => {
    const started = now();
    const seconds = () => (now() - started) / 1000;
    const decoders = { input: new TextDecoder('utf-8'), output: new TextDecoder('utf-8') };
    const tracker = createCommandTracker({
      width,
      onCommand: (command) => onCommand(command.command, Math.round(command.time * 1000)),
    });
    return {
      input: (data) => tracker.input(seconds(), decoders.input.decode(data, { stream: true })),
      output: (data) => tracker.output(seconds(), decoders.output.decode(data, { stream: true })),
      resize: (cols) => tracker.resize(cols),
      finish: () => tracker.finish(),
    };
  };
}
