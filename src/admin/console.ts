// admin/ room: the web console — a single static page (console/index.html, app.js, style.css)
// served by the admin plane at /console/, talking only to the /v1 REST API from the browser.
// No build step and no CDN: the files are plain ES modules read from the package's console/
// directory and kept in memory (they are a few tens of KiB).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

export interface ConsoleOptions {
  /** Directory of the console's static files; default the package's console/ directory. */
  assetsDir?: string;
}

/** dist/src/admin/console.js → <package root>/console */
export const defaultConsoleAssetsDir: string = fileURLToPath(new URL('../../../console/', import.meta.url));

const contentTypes: ReadonlyMap<string, string> = new Map([
  ['.html', 'text/html; charset=utf-8'],
  ['.js', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.ico', 'image/x-icon'],
  ['.json', 'application/json; charset=utf-8'],
]);

interface Asset {
  body: Buffer;
  contentType: string;
}

/**
 * Reads the console's files once. Only regular files directly in the directory with a known
 * extension are served, so a request path can never reach anything else on disk.
 */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const contentType = contentTypes.get(extname(name).toLowerCase());
    if (contentType === undefined || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (!statSync(path).isFile()) continue;
    assets.set(name, { body: readFileSync(path), contentType });
  }
  if (!assets.has('index.html')) throw new Error(`console assets directory ${dir} has no index.html`);
  return assets;
}

export function registerConsole(app: FastifyInstance, options: ConsoleOptions = {}): void {
  const dir = options.assetsDir ?? defaultConsoleAssetsDir;
  const assets = loadAssets(dir);
  // The page never changes while the broker runs, but a browser should revalidate after an
  // upgrade rather than keep a stale app.js next to a newer index.html.
  const cacheControl = 'no-cache';
  const index = assets.get('index.html');

  // Not part of the REST API: kept out of the OpenAPI document.
  const route = { schema: { hide: true } };
  app.get('/', route, (_request, reply) => reply.redirect('/console/'));
  app.get('/console', route, (_request, reply) => reply.redirect('/console/'));
  app.get('/console/', route, (_request, reply) => {
    if (index === undefined) return reply.code(404).send();
    return reply.header('cache-control', cacheControl).type(index.contentType).send(index.body);
  });
  app.get<{ Params: { file: string } }>('/console/:file', route, (request, reply) => {
    const asset = assets.get(request.params.file);
    if (asset === undefined) {
      return reply.code(404).type('application/json; charset=utf-8').send({ error: 'NOT_FOUND', message: `no console file ${request.params.file}` });
    }
    return reply.header('cache-control', cacheControl).type(asset.contentType).send(asset.body);
  });
}
