'use strict';
// DinoAir web GUI: serves public/ and a small /api/config; proxies nothing.
// The page talks to ComfyUI and Ollama directly on the loopback interface.
// HOST and PORT (default 127.0.0.1:3000) choose where it listens; DINOAIR_MODEL or
// config.json (written by the installer) chooses the Ollama model. DINOAIR_PID_FILE, when set,
// receives the process id (start.bat uses it to stop the server when ComfyUI stops).

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const HOST = process.env.HOST || '127.0.0.1';
const PORT = Number.parseInt(process.env.PORT || '3000', 10);
const PUBLIC_DIR = path.join(__dirname, 'public');
const CONFIG_FILE = path.join(__dirname, 'config.json');
const DEFAULTS = {
  model: 'llama3.2',
  comfyuiUrl: 'http://127.0.0.1:8188',
  ollamaUrl: 'http://127.0.0.1:11434',
};
const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

function loadConfig() {
  let saved = {};
  try {
    saved = JSON.parse(fs.readFileSync(CONFIG_FILE, 'utf8'));
  } catch {
    // No config.json (or an unreadable one): the defaults still give a working page.
  }
  const config = { ...DEFAULTS, ...saved };
  if (process.env.DINOAIR_MODEL) config.model = process.env.DINOAIR_MODEL;
  return config;
}

function send(res, status, type, body, headers = {}) {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function handle(req, res) {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  const config = loadConfig();
  const { pathname } = new URL(req.url, 'http://localhost');
  if (pathname === '/api/config') {
    send(res, 200, TYPES['.json'], JSON.stringify(config));
    return;
  }
  let file;
  try {
    file = path.resolve(PUBLIC_DIR, '.' + decodeURIComponent(pathname === '/' ? '/index.html' : pathname));
  } catch {
    send(res, 400, 'text/plain; charset=utf-8', 'bad request\n');
    return;
  }
  if (!file.startsWith(PUBLIC_DIR + path.sep)) {
    send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    return;
  }
  fs.readFile(file, (err, body) => {
    if (err) {
      send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
      return;
    }
    const csp = `default-src 'self'; connect-src 'self' ${config.ollamaUrl}; style-src 'self' 'unsafe-inline'`;
    send(res, 200, TYPES[path.extname(file)] || 'application/octet-stream', body, {
      'Content-Security-Policy': csp,
      'Cache-Control': 'no-cache',
    });
  });
}

const server = http.createServer(handle);
server.on('error', (err) => {
  console.error(`DinoAir web GUI cannot listen on ${HOST}:${PORT}: ${err.message} (set PORT to another port)`);
  process.exit(1);
});
server.listen(PORT, HOST, () => {
  if (process.env.DINOAIR_PID_FILE) fs.writeFileSync(process.env.DINOAIR_PID_FILE, String(process.pid));
  console.log(`DinoAir web GUI: http://${HOST}:${server.address().port}`);
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000).unref();
  });
}
