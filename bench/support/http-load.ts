import autocannon, { type AutocannonRequest } from 'autocannon';

export interface LoadSpec {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  /** Each request takes the next path in turn, across all connections. */
  readonly paths: readonly string[];
  readonly headers?: Record<string, string>;
  /** A fixed body, or one made per request (e.g. a fresh username for each write). */
  readonly body?: string | (() => string);
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
}

export interface LoadResult {
  /** Successful (2xx) responses per second of the measured run. */
  readonly perSecond: number;
  readonly ok: number;
  /** Non-2xx responses, connection errors and timeouts: any of them makes the run suspect. */
  readonly failed: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly durationS: number;
}

const RESPONSE_TIMEOUT_S = 10;

/**
 * Closed-loop HTTP load with autocannon: a fixed number of connections, each sending its next
 * request when the previous answer arrives, for a fixed time after a warm-up.
 */
export async function runHttpLoad(spec: LoadSpec): Promise<LoadResult> {
  const result = await autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: spec.durationS,
    timeout: RESPONSE_TIMEOUT_S,
    warmup: { connections: spec.connections, duration: spec.warmupS },
    requests: [requestFor(spec)],
  });
  const ok = result['2xx'];
  return {
    perSecond: ok / result.duration,
    ok,
    failed: result.non2xx + result.errors + result.timeouts,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    durationS: result.duration,
  };
}

function requestFor(spec: LoadSpec): AutocannonRequest {
  let next = 0;
  const { body } = spec;
  return {
    method: spec.method,
    headers: {
      ...spec.headers,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    setupRequest: (request) => {
      const path = spec.paths[next++ % spec.paths.length] ?? '/';
      if (body === undefined) return { ...request, path };
      return { ...request, path, body: typeof body === 'string' ? body : body() };
    },
  };
}
