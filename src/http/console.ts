import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyReply } from 'fastify';
import type { App } from './app.ts';
import { notFoundHandler } from './error-boundary.ts';

/** Where `npm run build` writes the console (console/vite.config.ts). */
export const CONSOLE_ROOT = fileURLToPath(new URL('../../dist/console/', import.meta.url));

/**
 * Sent with every page and file of the console. The policy allows scripts, styles, fonts and
 * connections from this origin only, no inline script or style, no plugins, no framing; the
 * build emits no inline script for it (console/vite.config.ts). `wasm-unsafe-eval` lets this
 * origin's own scripts compile WebAssembly (the recording player is WebAssembly); it allows no
 * JavaScript eval and no script from elsewhere.
 */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
  ].join('; '),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
});

/**
 * Every path but /v1 and what lies under it. A catch-all `/*` would also catch API paths the
 * router refuses (a parameter over the length limit) and answer them as pages; with the API's
 * first segment excluded (in either case: /V1 is no page either), those reach the API's own
 * errors.
 */
const CONSOLE_PATHS = ['/', '/:first(^(?![vV]1$)[^/]+$)', '/:first(^(?![vV]1$)[^/]+$)/*'];

const INDEX = 'index.html';
/** Vite's output folder: names carry a content hash, so a browser may keep them for good. */
const ASSETS = '/assets/';
const NOT_BUILT = 'the console is not built: run npm run build';

/**
 * Serves the built web console at `/`. A GET outside /v1 that names no file gets index.html, so
 * the console's own routes (/accounts, /requests/ID) load from a bookmark or a reload. The
 * console has no back door: it calls the same /v1 API as every client.
 */
export async function consoleRoutes(app: App, options: { root?: string } = {}): Promise<void> {
  const root = path.resolve(options.root ?? CONSOLE_ROOT);
  // Only reply.sendFile: the route below decides what is served, under its own access action.
  await app.register(fastifyStatic, {
    root,
    serve: false,
    cacheControl: false,
    dotfiles: 'deny',
    suppressWarning: true,
  });

  for (const url of CONSOLE_PATHS) {
    app.get(
      url,
      { config: { action: 'console.static' }, schema: { hide: true } },
      async (request, reply) => {
        const pathname = request.url.split('?', 1)[0] ?? '/';
        reply.headers(CONSOLE_HEADERS);
        if (!existsSync(path.join(root, INDEX))) {
          return reply.code(503).type('text/plain; charset=utf-8').send(NOT_BUILT);
        }
        const file = fileUnder(root, pathname);
        if (file === null && pathname.startsWith(ASSETS)) return notFoundHandler(request, reply);
        const served = file ?? INDEX;
        reply.header('cache-control', cachingOf(served));
        return sendFile(reply, served);
      },
    );
  }
}

/** The index changes with every build and is never cached; hashed assets always are. */
function cachingOf(file: string): string {
  if (file === INDEX) return 'no-store';
  if (`/${file}`.startsWith(ASSETS)) return 'public, max-age=31536000, immutable';
  return 'no-cache';
}

/**
 * The file under `root` a URL path names, relative to `root`, or null when it names none:
 * not a regular file, a hidden one, or a path that would leave `root`.
 */
function fileUnder(root: string, pathname: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const relative = path.posix.normalize(decoded).replace(/^\/+/, '');
  if (relative === '' || relative.split('/').some((part) => part.startsWith('.'))) return null;
  const full = path.join(root, relative);
  if (!full.startsWith(root + path.sep)) return null;
  try {
    return statSync(full).isFile() ? relative : null;
  } catch {
    // Missing, or unreadable: either way not a file to serve; the index answers instead.
    return null;
  }
}

/** The send library decodes the path it is given once more, so each part goes encoded. */
function sendFile(reply: FastifyReply, relative: string): FastifyReply {
  return reply.sendFile(relative.split('/').map(encodeURIComponent).join('/'));
}
