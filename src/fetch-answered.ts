/**
 * `fetch`, giving up when no answer (its status and headers) comes within `answerMs`. The body
 * then flows for as long as it takes, its pauses bounded by the caller: a timeout signal given to
 * fetch itself would also cut a long download that is still flowing. A late answer fails with a
 * TimeoutError.
 */
export async function fetchAnswered(
  url: string,
  init: Omit<RequestInit, 'signal'>,
  answerMs: number,
): Promise<Response> {
  const answer = new AbortController();
  const waiting = setTimeout(
    () => answer.abort(new DOMException(`no answer within ${answerMs} ms`, 'TimeoutError')),
    answerMs,
  );
  try {
    return await fetch(url, { ...init, signal: answer.signal });
  } finally {
    clearTimeout(waiting);
  }
}
