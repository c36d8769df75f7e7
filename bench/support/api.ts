/** A small client for the benchmark's setup calls; load itself goes through the load generators. */
export interface Api {
  call<T>(method: string, path: string, options?: { body?: unknown; token?: string }): Promise<T>;
}

export function apiClient(baseUrl: string, defaultToken: string): Api {
  return {
    async call<T>(method: string, path: string, options: { body?: unknown; token?: string } = {}) {
      const headers: Record<string, string> = {
        authorization: `Bearer ${options.token ?? defaultToken}`,
      };
      if (options.body !== undefined) headers['content-type'] = 'application/json';
      const response = await fetch(baseUrl + path, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
      return (text === '' ? {} : JSON.parse(text)) as T;
    },
  };
}

/** Runs `work` over `items` with at most `concurrency` calls in flight; keeps the order. */
export async function inPool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
