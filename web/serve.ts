/**
 * `npm run web`: builds the page (web/build.ts) and serves it on 127.0.0.1 with the COOP/COEP
 * headers that make it cross-origin isolated, so wasm runs on every core. The port is
 * CKAAD_WEB_PORT, or 5180 (the next free one if taken).
 */

import { buildWeb } from './build.js';
import { serveFolder } from './server.js';

const built = await buildWeb();
for (const warning of built.warnings) console.warn(`warning: ${warning}`);
const kib = Object.entries(built.jsBytes).map(([file, bytes]) => `${file} ${(bytes / 1024).toFixed(0)} KiB`);
console.log(`built ${built.dir} (${kib.join(', ')})`);

const wanted = Number(process.env.CKAAD_WEB_PORT ?? 5180);
let server: Awaited<ReturnType<typeof serveFolder>> | null = null;
for (let port = wanted; server === null && port < wanted + 20; port++) {
  try {
    server = await serveFolder(built.dir, { isolated: true, port });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
  }
}
if (server === null) throw new Error(`no free port from ${wanted} to ${wanted + 19}; set CKAAD_WEB_PORT`);
console.log(`ckaad web page: ${server.url}  (Ctrl-C to stop)`);
