import type { ChildProcess } from 'node:child_process';

/** Any message of a child: its `type` says what it answers; `failed` carries an error. */
interface Answer {
  readonly type: string;
  readonly message?: string;
}

/**
 * Sends one message to a forked child and resolves with its first answer of type `answer`;
 * rejects on a `failed` answer, an exit, or when none comes in time.
 */
export function ask<A extends Answer, T extends A['type']>(
  child: ChildProcess,
  message: unknown,
  answer: T,
  timeoutMs: number,
): Promise<Extract<A, { type: T }>> {
  return new Promise((resolve, reject) => {
    const settle = (outcome: () => void) => {
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onMessage);
      outcome();
    };
    const onExit = (code: number | null) =>
      settle(() => reject(new Error(`the bench child exited (code ${code})`)));
    const onMessage = (reply: A) => {
      if (reply.type === 'failed') {
        settle(() => reject(new Error(`the bench child failed: ${reply.message ?? '?'}`)));
      } else if (reply.type === answer) {
        settle(() => resolve(reply as Extract<A, { type: T }>));
      }
    };
    const timer = setTimeout(
      () => settle(() => reject(new Error(`no '${answer}' from the bench child in time`))),
      timeoutMs,
    );
    child.on('exit', onExit);
    child.on('message', onMessage);
    child.send(message as object);
  });
}
