import { type AsciicastEvent, type AsciicastHeader, parseResizeData } from './asciicast.ts';
import { createLineEditor, type LineEffect } from './line-editor.ts';
import { createScreenLine } from './screen-line.ts';

/**
 * `input`: the keys typed, confirmed by the shell's echo. `screen`: read off the echoed line
 * because the keys alone do not tell it (history recall, completion). `exec`: an SSH exec request.
 */
export type CommandSource = 'input' | 'screen' | 'exec';

export interface SessionCommand {
  /** Seconds into the session when the line was submitted. */
  readonly time: number;
  readonly command: string;
  readonly source: CommandSource;
}

/**
 * Follows a shell session and reports each line the user submitted at a prompt.
 *
 * A line is reported only once the screen shows it after the prompt it was typed at. Keys typed
 * with the terminal's echo off (a password after `sudo`, `ssh`, `mysql -p`, `read -s`) never
 * reach the screen, so they are never reported, whatever was typed: the committed prompt line
 * shows nothing after the prompt and the line is dropped. Keys typed inside a full-screen
 * program (alternate screen: vim, less, top) are not commands and are ignored.
 */
export interface CommandTracker {
  output(time: number, text: string): void;
  input(time: number, text: string): void;
  resize(cols: number): void;
  /** Settles lines still waiting for their echo against the screen as it is; call at the end. */
  finish(): void;
}

export interface CommandTrackerOptions {
  readonly width: number;
  readonly onCommand: (command: SessionCommand) => void;
}

interface Submitted {
  readonly time: number;
  readonly typed: string;
  readonly certain: boolean;
  readonly prompt: string;
  linesSeen: number;
}

type Verdict =
  | { readonly kind: 'wait' | 'hidden' }
  | { readonly kind: 'show'; readonly command: SessionCommand };

/** A submitted line whose echo has not shown after this many screen lines is dropped. */
const MAX_LINES_WAITED = 200;
const MAX_WAITING = 32;
/** A right prompt (zsh RPROMPT) sits after the command: the last gap of two blanks or more. */
const RIGHT_PROMPT_GAP = / {2,}(?=\S)(?!.* {2,}\S)/;
/** Echoed masks (`sudo` with pwfeedback) are not commands. */
const MASK = /^\*+$/;

export function createCommandTracker(options: CommandTrackerOptions): CommandTracker {
  const editor = createLineEditor();
  const waiting: Submitted[] = [];
  // The prompt on screen when the first key of the line being typed came.
  let anchor: { prompt: string } | null = null;
  let inputTime = 0;

  /** A line left the screen's cursor row: it settles the oldest submitted line it decides. */
  const settle = (line: string): void => {
    for (const [index, entry] of waiting.entries()) {
      const verdict = judge(entry, line);
      if (verdict.kind === 'wait') continue;
      waiting.splice(index, 1);
      if (verdict.kind === 'show') options.onCommand(verdict.command);
      break;
    }
    for (const entry of waiting) entry.linesSeen += 1;
    const fresh = waiting.filter((entry) => entry.linesSeen <= MAX_LINES_WAITED);
    waiting.splice(0, waiting.length, ...fresh);
  };

  const screen = createScreenLine({
    width: options.width,
    onCommit: settle,
    linesWanted: () => waiting.length > 0,
    onAlternateScreen: () => {
      editor.reset();
      anchor = null;
    },
  });

  const onEffect = (effect: LineEffect): void => {
    if (effect.kind === 'start') {
      anchor = { prompt: screen.textBeforeCursor() };
      return;
    }
    if (effect.kind === 'submit' && anchor !== null) {
      const { text: typed, certain } = effect;
      if (typed.trim() !== '' || !certain) {
        waiting.push({ time: inputTime, typed, certain, ...anchor, linesSeen: 0 });
        if (waiting.length > MAX_WAITING) waiting.shift();
      }
    }
    anchor = null;
  };

  return {
    output(_time, text) {
      screen.write(text);
    },

    input(time, text) {
      if (screen.alternateScreen) return;
      inputTime = time;
      editor.feed(text, onEffect);
    },

    resize(cols) {
      screen.setWidth(cols);
    },

    finish() {
      const line = screen.text();
      for (const entry of waiting.splice(0)) {
        const verdict = judge(entry, line);
        if (verdict.kind === 'show') options.onCommand(verdict.command);
      }
    },
  };
}

/** The commands of a recorded shell session, in the order they were submitted. */
export function extractCommands(
  header: Pick<AsciicastHeader, 'width'>,
  events: Iterable<AsciicastEvent>,
): SessionCommand[] {
  const commands: SessionCommand[] = [];
  const tracker = createCommandTracker({
    width: header.width,
    onCommand: (command) => commands.push(command),
  });
  for (const event of events) {
    if (event.code === 'o') tracker.output(event.time, event.data);
    else if (event.code === 'i') tracker.input(event.time, event.data);
    else if (event.code === 'r') {
      const size = parseResizeData(event.data);
      if (size !== null) tracker.resize(size.cols);
    }
  }
  tracker.finish();
  return commands.sort((a, b) => a.time - b.time);
}

/** An exec request runs exactly its command; nothing is typed. */
export function execCommand(command: string, time = 0): SessionCommand {
  return { time, command, source: 'exec' };
}

/**
 * Decides a submitted line against a screen line. Only text the screen shows after the prompt is
 * ever reported, so a line typed blind cannot come out, even when the keys were read exactly.
 */
function judge(entry: Submitted, line: string): Verdict {
  const prompt = entry.prompt.trimEnd();
  if (prompt === '') return judgeWithoutPrompt(entry, line);
  if (!line.startsWith(prompt)) return { kind: 'wait' };
  const shown = line.slice(prompt.length).trim();
  if (shown === '' || MASK.test(shown)) return { kind: 'hidden' };
  if (!entry.certain) return show(entry, shown, 'screen');
  const typed = entry.typed.trim();
  if (sameText(shown, typed)) return show(entry, typed, 'input');
  const gap = shown.search(RIGHT_PROMPT_GAP);
  if (gap > 0 && sameText(shown.slice(0, gap), typed)) return show(entry, typed, 'input');
  return { kind: 'wait' };
}

/** Shells draw a tab as blanks up to the next stop: runs of blanks compare as one. */
function sameText(shown: string, typed: string): boolean {
  return shown.replace(/\s+/g, ' ') === typed.replace(/\s+/g, ' ');
}

/**
 * Keys typed ahead while a command still ran start on a line with no prompt. The terminal echoes
 * them on a line of their own, and only a line showing exactly what was typed confirms them.
 */
function judgeWithoutPrompt(entry: Submitted, line: string): Verdict {
  const typed = entry.typed.trim();
  if (entry.certain && typed !== '' && sameText(line.trim(), typed)) {
    return show(entry, typed, 'input');
  }
  return { kind: 'wait' };
}

function show(entry: Submitted, command: string, source: CommandSource): Verdict {
  return { kind: 'show', command: { time: entry.time, command, source } };
}
