// Thin client for the server's Prometheus-shaped HTTP API.

export class ApiError extends Error {
  constructor(message, status, errorType) {
    super(message);
    this.status = status;
    this.errorType = errorType;
  }
}

function quote(v) {
  return '"' + String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

// selector('node_load1', {instance: 'h1', device: ['!=', 'lo']}) -> node_load1{instance="h1",device!="lo"}
export function selector(name, labels = {}) {
  const parts = [];
  for (const [k, v] of Object.entries(labels)) {
    if (Array.isArray(v)) parts.push(k + v[0] + quote(v[1]));
    else parts.push(k + '=' + quote(v));
  }
  return parts.length ? `${name}{${parts.join(',')}}` : name;
}

// Offset of the server's clock from ours, from the Date header of API answers. Used to ask for
// "the last 15 minutes" in the server's time, so a skewed client clock does not shift the window.
export const serverClock = {
  offset: 0,
  now() {
    return Date.now() / 1000 + this.offset;
  },
};

function noteDate(res) {
  const d = res.headers.get('Date');
  if (!d) return;
  const ms = Date.parse(d);
  if (!Number.isFinite(ms)) return;
  // The header has 1 s resolution: only correct clearly skewed clocks.
  const off = (ms + 500 - Date.now()) / 1000;
  serverClock.offset = Math.abs(off) > 2 ? off : 0;
}

async function getJSON(path, signal) {
  let res;
  try {
    res = await fetch(path, { signal, headers: { Accept: 'application/json' } });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(`cannot reach the server (${e.message})`, 0, 'network');
  }
  noteDate(res);
  let body = null;
  try {
    body = await res.json();
  } catch {
    /* not JSON: handled below */
  }
  if (res.status === 401 && !location.hash.startsWith('#/login')) {
    // The server wants a login for metric reads (it listens beyond loopback): log in, come back.
    location.hash = '#/login?next=' + encodeURIComponent(location.hash || '#/');
  }
  if (!res.ok || !body || body.status !== 'success') {
    const msg = body && body.error ? body.error : `HTTP ${res.status} ${res.statusText}`.trim();
    throw new ApiError(msg, res.status, body && body.errorType);
  }
  return body.data;
}

export async function labelValues(label, signal, match) {
  const q = match ? `?${new URLSearchParams({ 'match[]': match })}` : '';
  const data = await getJSON(`/api/v1/label/${encodeURIComponent(label)}/values${q}`, signal);
  return Array.isArray(data) ? data : [];
}

// Returns the matrix result: [{metric, values: [[t, "v"], ...]}, ...]
export async function queryRange(query, start, end, step, signal) {
  const q = new URLSearchParams({ query, start: String(start), end: String(end), step: String(step) });
  const data = await getJSON(`/api/v1/query_range?${q}`, signal);
  return data && Array.isArray(data.result) ? data.result : [];
}

export function liveURL(selectors) {
  const q = new URLSearchParams();
  for (const s of selectors) q.append('match[]', s);
  return `/api/v1/live?${q}`;
}

// Parses a Prometheus sample value ("0.5", "NaN", "+Inf").
export function parseValue(s) {
  if (typeof s === 'number') return s;
  switch (s) {
    case '+Inf':
    case 'Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    default:
      return parseFloat(s);
  }
}
