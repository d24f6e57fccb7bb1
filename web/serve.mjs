// `npm run web [-- --port <n>]`: builds the web app and serves it on 127.0.0.1 (static files only; nothing else).
// `node web/serve.mjs --dir <dir> --port 0` serves an existing build on a free port and prints its address.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';

const option = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const root = resolve(option('dir', 'dist/web'));
if (!existsSync(join(root, 'index.html'))) {
  console.error(`${root}: no index.html; run "npm run build:web" first`);
  process.exit(1);
}
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css', '.json': 'application/json', '.png': 'image/png' };
const server = createServer((request, response) => {
  const path = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
  const file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
  if (!file.startsWith(root + sep) || !existsSync(file) || !statSync(file).isFile()) {
    response.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}\n`);
    return;
  }
  response.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
  createReadStream(file).pipe(response);
});
server.listen(Number(option('port', '8080')), '127.0.0.1', () => {
  console.log(`explorer at http://127.0.0.1:${server.address().port}/ (serving ${root}; Ctrl-C stops)`);
});
