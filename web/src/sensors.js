// The sensor page's own cards (#/settings/sensor/<id>, under the heading drawn by catalog.js):
// the sensor's state (GET /api/v1/sensor/<id>/status, polled: listening / error / disabled /
// remote, address, counters, last event) and "How to send" — per type the intake URL, the secret
// (masked, revealed on request, editors only) and copyable snippets (rsyslog, logger,
// Alertmanager, Nagios / Icinga, generic JSON, usage lines, snmptrap) built from the sensor's
// settings and the state the server reports, so they never promise what the sensor does not do.
import { serverClock } from './api.js';
import { request } from './auth.js';
import { canWriteHere, errorText, fmtTime, message, objectHash, refName } from './catalog.js';
import { h, setText } from './dom.js';
import { fmtAge } from './events.js';

const POLL_MS = 5000;
const STALE_MS = 3600 * 1000; // a last event older than this is flagged
const MASK = '••••••••';

const STATE_CLASS = { listening: 'up', intake: 'up', error: 'down', disabled: 'unknown', remote: 'partial', unknown: 'unknown' };
const STATE_HELP = {
  listening: 'the server listens and accepts events',
  intake: 'an HTTP intake: the server takes events posted to its URL',
  error: 'the sensor cannot listen (see the reason)',
  disabled: 'the sensor is disabled: nothing listens',
  remote: 'the sensor names an agent, not this server',
  unknown: 'the server has not looked at this sensor yet (a new sensor: wait a second)',
};

// ---------------------------------------------------------------- entry (catalog.js hook)

// Draws the status and "How to send" cards into slot (placed under the page heading) and keeps
// them current while slot is in the page.
export function renderDetailExtras(slot, schema, m, sensor) {
  maskSecrets(slot.parentElement);
  const canEdit = canWriteHere(m);
  const statusCard = h('section', { class: 'card sensor-status', 'aria-labelledby': 'sensor-status-title', 'data-sensor': sensor.id });
  const howCard = h('section', { class: 'card sensor-howto', 'aria-labelledby': 'sensor-howto-title' });
  slot.replaceChildren(statusCard, howCard);

  const badgeBox = h('span', { class: 'badge-box' }, badge(null));
  const asOf = h('span', { class: 'muted small as-of' });
  const body = h('div', { class: 'status-body' }, h('p', { class: 'loading' }, 'loading…'));
  statusCard.append(h('div', { class: 'section-head' }, h('h2', { id: 'sensor-status-title' }, 'Status'), badgeBox, h('div', { class: 'spacer' }), asOf), body);
  howCard.append(h('div', { class: 'section-head' }, h('h2', { id: 'sensor-howto-title' }, 'How to send')));
  const howBody = h('div', null, h('p', { class: 'loading' }, 'loading…'));
  howCard.append(howBody);

  const agentName = sensor.agent != null && sensor.agent !== '' ? refName(schema, 'agent', sensor.agent) : Promise.resolve(null);
  const agentHost =
    sensor.agent != null && sensor.agent !== ''
      ? request('GET', `/api/v1/agent/${encodeURIComponent(sensor.agent)}`).then(
          (r) => (r.data && (r.data.hostname || r.data.name)) || null,
          () => null,
        )
      : Promise.resolve(null);

  let last = null; // last status answer
  let fetchedAt = 0;
  let howKey = null;
  let wasConnected = false;
  const ageEls = [];

  const drawStatus = async (st) => {
    statusCard.dataset.state = st.state || '';
    badgeBox.replaceChildren(badge(st.state));
    ageEls.length = 0;
    const rows = [];
    const note = [];
    if (st.state === 'remote') {
      const name = await agentName;
      // The server says what an agent does with it (today: nothing listens); never claim more.
      const agent = sensor.agent != null ? h('a', { href: objectHash('agent', sensor.agent) }, name || `#${sensor.agent}`) : 'an agent';
      note.push(
        st.error
          ? message('error', `Not listening: ${st.error}. Agent: `, agent, '.')
          : message('info', 'Runs on agent ', agent, ': this server cannot tell whether it listens or what it received.'),
      );
    } else if (st.state === 'disabled') {
      note.push(message('info', 'Disabled: nothing listens for this sensor and senders are refused. Edit it and tick "Enabled" to receive events.'));
    } else if (st.state === 'error') {
      note.push(message('error', `Not listening: ${st.error || 'unknown error'}`));
    }
    if (st.error && st.state !== 'error' && st.state !== 'remote') note.push(h('p', { class: 'probe-error' }, String(st.error)));
    if (st.address) rows.push(['Address', h('code', null, String(st.address))]);
    if (st.intake) rows.push(['Intake', h('code', null, absolute(st.intake))]);
    if (st.state !== 'remote') {
      rows.push(['Received', num(st.received)]);
      rows.push(['Dropped', num(st.dropped), 'over capacity or oversized']);
      rows.push(['Rejected', num(st.rejected), 'refused: bad secret, malformed or not accepted']);
      const lastEl = h('span', { class: 'last-event' });
      if (st.last_event == null) {
        lastEl.append(h('span', { class: 'never', 'data-last': 'never' }, 'never'), h('span', { class: 'muted' }, ' — nothing received yet'));
      } else {
        const age = h('span', { class: 'age' });
        const stale = h('span', { class: 'stale-tag', hidden: true, title: 'no event in the last hour' }, 'stale');
        ageEls.push({ el: age, stale, at: Number(st.last_event) });
        lastEl.append(h('time', { datetime: new Date(Number(st.last_event)).toISOString() }, fmtTime(Number(st.last_event))), ' · ', age, ' ', stale);
        lastEl.dataset.last = 'seen';
      }
      rows.push(['Last event', lastEl]);
    }
    body.replaceChildren(
      ...note,
      h(
        'dl',
        { class: 'dl sensor-counts' },
        rows.map(([k, v, help]) => h('div', { class: 'dl-row', 'data-field': k.toLowerCase().replace(/ /g, '_') }, h('dt', { title: help || null }, k), h('dd', null, v))),
      ),
    );
    tick();
  };

  const tick = () => {
    const now = Date.now();
    for (const a of ageEls) {
      // Ages count from the server's answer, so a skewed client clock does not shift them.
      const ms = serverClock.now() * 1000 - a.at;
      setText(a.el, fmtAge(ms));
      a.stale.hidden = !(ms > STALE_MS);
    }
    if (fetchedAt) setText(asOf, now - fetchedAt > 3 * POLL_MS ? `as of ${fmtTime(fetchedAt)} (not current)` : '');
  };

  const drawHow = async (st) => {
    const host = await agentHost;
    const key = JSON.stringify([st.state, st.address, st.intake, host]);
    if (key === howKey) return;
    howKey = key;
    howBody.replaceChildren(...howTo(sensor, st, { canEdit, agentHost: host }));
  };

  const refresh = async () => {
    let st;
    try {
      const r = await request('GET', `/api/v1/sensor/${encodeURIComponent(sensor.id)}/status`);
      st = r.data || {};
    } catch (e) {
      if (last) {
        setText(asOf, `status unavailable: ${errorText(e)}`);
        return;
      }
      badgeBox.replaceChildren(badge('unknown'));
      body.replaceChildren(message('error', `Status unavailable: ${errorText(e)}`));
      if (!howKey) drawHow({});
      return;
    }
    last = st;
    fetchedAt = Date.now();
    await drawStatus(st);
    await drawHow(st);
  };

  const loop = async () => {
    if (wasConnected && !slot.isConnected) return;
    if (slot.isConnected) wasConnected = true;
    if (!document.hidden) await refresh();
    setTimeout(loop, POLL_MS);
  };
  const ticker = setInterval(() => {
    if (wasConnected && !slot.isConnected) clearInterval(ticker);
    else tick();
  }, 1000);
  loop();
}

// The fields card shows settings as a key/value table: hide the shared secret there too.
function maskSecrets(page) {
  if (!page) return;
  for (const th of page.querySelectorAll('[data-field="settings"] th')) {
    if (!/secret|token|password|community/i.test(th.textContent || '')) continue;
    const td = th.nextElementSibling;
    if (td && td.textContent) td.replaceChildren(h('span', { class: 'muted', title: 'see “How to send”' }, MASK));
  }
}

function badge(state) {
  const s = state || 'unknown';
  return h('span', { class: `state-badge state-${STATE_CLASS[s] || 'unknown'}`, 'data-state': s, title: STATE_HELP[s] || s }, s);
}

function num(v) {
  return v == null ? '–' : String(v);
}

function absolute(path) {
  try {
    return new URL(String(path), location.origin).href;
  } catch {
    return String(path);
  }
}

// ---------------------------------------------------------------- "How to send"

// Shell single quotes; YAML single quotes.
const sq = (s) => `'${String(s).replace(/'/g, `'\\''`)}'`;
const yq = (s) => `'${String(s).replace(/'/g, "''")}'`;

// "0.0.0.0:5514" -> {host: '0.0.0.0', port: '5514'}; "[::]:514" -> {host: '::', port: '514'}.
function splitHostPort(addr) {
  const s = String(addr || '');
  const m = s.match(/^\[([^\]]*)\]:(\d+)$/) || s.match(/^([^:]*):(\d+)$/);
  if (m) return { host: m[1], port: m[2] };
  return { host: s, port: '' };
}
const wildcard = (host) => !host || host === '0.0.0.0' || host === '::' || host === '*';
const bracket = (host) => (host.includes(':') ? `[${host}]` : host);

// The host senders should use: the listen address unless it is a wildcard, else this page's
// host (server) or the agent's host name (remote sensor).
function targetHost(listenHost, remote, agentHost) {
  if (!wildcard(listenHost)) return listenHost;
  if (remote) return agentHost || 'AGENT-HOST';
  return location.hostname;
}

// Reveal state shared by the secret field and every snippet of one card.
function revealer() {
  const subs = new Set();
  const r = {
    shown: false,
    on(fn) {
      subs.add(fn);
      fn(r.shown);
    },
    set(v) {
      r.shown = v;
      for (const fn of subs) fn(v);
    },
  };
  return r;
}

async function copyText(text, done) {
  try {
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
    else {
      const ta = h('textarea', { class: 'sr-only', readonly: true });
      ta.value = text;
      document.body.append(ta);
      ta.select();
      const ok = document.execCommand('copy');
      ta.remove();
      if (!ok) throw new Error('copy refused');
    }
    setText(done, 'copied');
  } catch {
    setText(done, 'select the text and copy it by hand');
  }
  setTimeout(() => setText(done, ''), 4000);
}

function copyButton(label, getText) {
  const done = h('span', { class: 'copy-done muted small', role: 'status' });
  const btn = h('button', { type: 'button', class: 'btn small copy', 'aria-label': `Copy ${label}` }, 'Copy');
  btn.addEventListener('click', () => copyText(getText(), done));
  return [btn, done];
}

// A labelled one-line value with Copy (and Reveal for a secret).
function valueRow(label, value, { secret = null, reveal = null, id } = {}) {
  const code = h('code', { class: 'copy-value', id });
  const row = h('div', { class: 'copy-row', 'data-copy': label }, h('span', { class: 'copy-label' }, label), code);
  if (secret != null) {
    const btn = h('button', { type: 'button', class: 'btn small reveal', 'aria-pressed': 'false', 'aria-label': `Reveal ${label.toLowerCase()}` }, 'Reveal');
    btn.addEventListener('click', () => reveal.set(!reveal.shown));
    reveal.on((shown) => {
      setText(code, shown ? secret : MASK);
      setText(btn, shown ? 'Hide' : 'Reveal');
      btn.setAttribute('aria-pressed', String(shown));
      code.classList.toggle('masked', !shown);
    });
    row.append(btn);
  } else setText(code, value);
  row.append(...copyButton(label, () => (secret != null ? secret : value)));
  return row;
}

// A titled snippet: shown with the secret masked unless revealed; Copy copies the real text.
function snippet(title, make, secret, reveal, note) {
  const code = h('code');
  const pre = h('pre', { class: 'snippet' }, code);
  const fig = h(
    'figure',
    { class: 'snippet-box', 'data-snippet': title },
    h('figcaption', null, h('span', { class: 'snippet-title' }, title), h('span', { class: 'spacer' }), ...copyButton(title, () => make(secret))),
    note ? h('p', { class: 'muted small' }, note) : null,
    pre,
  );
  if (secret != null && reveal) reveal.on((shown) => setText(code, make(shown ? secret : MASK)));
  else setText(code, make(secret));
  return fig;
}

function secretOf(sensor) {
  const s = sensor.settings || {};
  for (const k of ['secret', 'token']) if (typeof s[k] === 'string' && s[k] !== '') return s[k];
  return null;
}

// The "How to send" content for a sensor and its last status.
export function howTo(sensor, st, { canEdit, agentHost }) {
  const settings = sensor.settings || {};
  const remote = st.state === 'remote';
  const out = [];
  if (st.state === 'disabled') out.push(message('info', 'The sensor is disabled: what is described below works once it is enabled.'));
  if (st.state === 'error' || (remote && st.error))
    out.push(message('error', 'Nothing listens for this sensor (see Status): senders following these steps reach nothing until that is fixed.'));
  switch (sensor.type) {
    case 'syslog':
      out.push(...syslogHow(settings, st, remote, agentHost));
      break;
    case 'webhook':
      out.push(...webhookHow(sensor, settings, st, canEdit));
      break;
    case 'usage-events':
      out.push(...usageHow(sensor, settings, st, canEdit, remote, agentHost));
      break;
    case 'snmp-trap':
      out.push(...trapHow(settings, st, remote, agentHost, canEdit));
      break;
    default:
      out.push(h('p', { class: 'muted' }, `No instructions for sensors of type “${sensor.type}”.`));
  }
  return out;
}

function syslogHow(settings, st, remote, agentHost) {
  const { host, port } = splitHostPort(st.address || settings.listen || '0.0.0.0:514');
  const target = targetHost(host, remote, agentHost);
  const transport = settings.transport === 'tcp' ? 'tcp' : 'udp';
  const format = settings.format || 'auto';
  const tb = bracket(target);
  const out = [
    h(
      'p',
      null,
      `Send syslog over ${transport.toUpperCase()} to `,
      h('code', { class: 'target' }, `${tb}:${port || 514}`),
      transport === 'tcp' ? ' (newline or octet-counted framing).' : '.',
      ` This sensor listens on ${transport.toUpperCase()} only`,
      format === 'auto' ? ' and reads RFC 5424 and RFC 3164 messages.' : `, and reads ${format === 'rfc5424' ? 'RFC 5424' : 'RFC 3164'} messages only.`,
    ),
  ];
  if (remote && wildcard(host) && !agentHost) out.push(message('info', 'Replace AGENT-HOST with the address of the agent this sensor runs on.'));
  const rs = `# /etc/rsyslog.d/60-dashdot.conf — then: systemctl restart rsyslog\n*.* ${transport === 'tcp' ? '@@' : '@'}${tb}:${port || 514}`;
  out.push(snippet('rsyslog', () => rs, null, null));
  const fmt = format === 'rfc3164' ? ' --rfc3164' : format === 'rfc5424' ? ' --rfc5424' : '';
  out.push(
    snippet('logger (a test message)', () => `logger -n ${target} -P ${port || 514} --${transport}${fmt} -t dashdot-test "hello from $(hostname)"`, null, null),
  );
  return out;
}

function secretSection(sensor, secret, canEdit, reveal, label) {
  if (secret && canEdit) return [valueRow(label || 'Secret', null, { secret, reveal })];
  if (secret) return [h('div', { class: 'copy-row' }, h('span', { class: 'copy-label' }, label || 'Secret'), h('span', { class: 'muted' }, 'set; hidden for your role — ask an editor'))];
  return [
    message(
      'error',
      'No shared secret is set on this sensor: only editor or admin API tokens may post to it. Third-party senders need a secret: ',
      canEdit ? h('a', { href: `${objectHash('sensor', sensor.id)}/edit` }, 'set one') : 'an editor can set one',
      '.',
    ),
  ];
}

function webhookHow(sensor, settings, st, canEdit) {
  const url = absolute(st.intake || `/api/v1/sensor/${sensor.id}/webhook`);
  const secret = secretOf(sensor);
  const shown = secret && canEdit ? secret : null;
  const reveal = revealer();
  const out = [
    h('p', null, 'POST events to the intake URL with the header ', h('code', null, 'Authorization: Bearer <secret>'), '. It takes Prometheus Alertmanager (webhook version 4), Nagios / Icinga notifications and a generic JSON event.'),
    valueRow('Intake URL', url),
    ...secretSection(sensor, secret, canEdit, reveal),
  ];
  const S = (s) => (s == null ? '<SECRET>' : s);
  out.push(
    snippet(
      'Alertmanager (alertmanager.yml)',
      (s) =>
        [
          'receivers:',
          '  - name: dashdot',
          '    webhook_configs:',
          `      - url: ${yq(url)}`,
          '        send_resolved: true',
          '        http_config:',
          '          authorization:',
          `            credentials: ${yq(S(s))}`,
          '# and route alerts to it, e.g. route: { receiver: dashdot }',
        ].join('\n'),
      shown,
      reveal,
      'Every alert of a group becomes an event; firing and resolved keep the alert’s fingerprint.',
    ),
  );
  const nagiosArgs = (m) =>
    [
      ['notification_type', m.type],
      ['host', m.host],
      ['service', m.service],
      ['state', m.state],
      ['output', m.output],
    ]
      .map(([k, v]) => `--data-urlencode '${k}=${v}'`)
      .join(' ');
  out.push(
    snippet(
      'Nagios / Icinga 1 (notification command)',
      (s) =>
        [
          'define command {',
          '  command_name notify-dashdot',
          `  command_line /usr/bin/curl -fsS -X POST ${sq(url)} -H ${sq(`Authorization: Bearer ${S(s)}`)} ${nagiosArgs({ type: '$NOTIFICATIONTYPE$', host: '$HOSTNAME$', service: '$SERVICEDESC$', state: '$SERVICESTATE$', output: '$SERVICEOUTPUT$' })}`,
          '}',
        ].join('\n'),
      shown,
      reveal,
      'Form fields host, service, state, output and notification_type; for host notifications use $HOSTSTATE$ and $HOSTOUTPUT$ and leave out service.',
    ),
  );
  out.push(
    snippet(
      'Icinga 2 (NotificationCommand)',
      (s) =>
        [
          'object NotificationCommand "dashdot-service" {',
          `  command = [ "/usr/bin/curl", "-fsS", "-X", "POST", ${JSON.stringify(url)},`,
          `    "-H", ${JSON.stringify(`Authorization: Bearer ${S(s)}`)},`,
          '    "--data-urlencode", "notification_type=$notification.type$",',
          '    "--data-urlencode", "host=$host.name$",',
          '    "--data-urlencode", "service=$service.name$",',
          '    "--data-urlencode", "state=$service.state$",',
          '    "--data-urlencode", "output=$service.output$" ]',
          '}',
        ].join('\n'),
      shown,
      reveal,
    ),
  );
  out.push(
    snippet(
      'Generic JSON (CI, deploys, scripts)',
      (s) =>
        [
          `curl -fsS -X POST ${sq(url)} \\`,
          `  -H ${sq(`Authorization: Bearer ${S(s)}`)} \\`,
          "  -H 'Content-Type: application/json' \\",
          `  -d '${JSON.stringify({ title: 'Deployed web 1.4.2', text: 'pipeline #318 by ci', severity: 'notice', device: 'web1', tags: ['deploy'], fields: { version: '1.4.2' } })}'`,
        ].join('\n'),
      shown,
      reveal,
      'title is required; severity is a syslog name (emergency … debug); device names a catalog device.',
    ),
  );
  return out;
}

function usageHow(sensor, settings, st, canEdit, remote, agentHost) {
  const secret = secretOf(sensor);
  // The secret names the sensor; without one, editor tokens name it with ?sensor=<id>.
  const url = absolute(st.intake || '/api/v1/usage') + (secret ? '' : `?sensor=${encodeURIComponent(sensor.id)}`);
  const shown = secret && canEdit ? secret : null;
  const reveal = revealer();
  const S = (s) => (s == null ? '<SECRET>' : s);
  const out = [
    h(
      'p',
      null,
      'One event per line: ',
      h('code', null, 'customer_id:data_type:count[t=ms,s=state,l=label,ct=change_type]'),
      ' (the qualifiers in brackets are optional). Several lines per request; bad lines are refused one by one with their line number, good ones are kept.',
    ),
    valueRow('Intake URL', url),
    ...secretSection(sensor, secret, canEdit, reveal),
    snippet(
      'Lines over HTTP',
      (s) =>
        [
          `curl -fsS -X POST ${sq(url)} \\`,
          `  -H ${sq(`Authorization: Bearer ${S(s)}`)} \\`,
          "  --data-binary @- <<'EOF'",
          'cust-42:api_call:1[t=120,s=ok,l=search,ct=create]',
          'cust-42:storage_gb:3',
          'EOF',
        ].join('\n'),
      shown,
      reveal,
    ),
    snippet(
      'JSON over HTTP',
      (s) =>
        [
          `curl -fsS -X POST ${sq(url)} \\`,
          `  -H ${sq(`Authorization: Bearer ${S(s)}`)} \\`,
          "  -H 'Content-Type: application/json' \\",
          `  -d '${JSON.stringify({ identity_id: 'cust-42', data_type: 'api_call', count: 1, qualifiers: { time_took: 120, state: 'ok', label: 'search', change_type: 'create' }, event_id: 'req-8f2c' })}'`,
        ].join('\n'),
      shown,
      reveal,
      'Also an array of such objects; event_id makes a retried event count once; time (optional) is when it happened.',
    ),
  ];
  if (settings.listen_udp) {
    const { host, port } = splitHostPort(settings.listen_udp);
    const target = targetHost(host, remote, agentHost);
    out.push(snippet('Lines over UDP', () => `printf 'cust-42:api_call:1[t=120]\\n' | nc -u -w1 ${target} ${port}`, null, null, `UDP carries no secret: anyone who can reach ${bracket(target)}:${port} can send.`));
  } else {
    out.push(h('p', { class: 'muted small' }, 'UDP is off for this sensor (no UDP listen address set).'));
  }
  return out;
}

function trapHow(settings, st, remote, agentHost, canEdit) {
  const { host, port } = splitHostPort(st.address || settings.listen || '0.0.0.0:162');
  const target = targetHost(host, remote, agentHost);
  const community = settings.community || 'public';
  const reveal = revealer();
  const shown = canEdit ? community : null;
  const C = (c) => (c == null ? '<COMMUNITY>' : c);
  return [
    h('p', null, 'Send SNMP v1 / v2c traps to ', h('code', { class: 'target' }, `${bracket(target)}:${port || 162}`), ' (UDP) with the community set on this sensor.'),
    snippet('net-snmp snmpd.conf', (c) => `trap2sink ${target}:${port || 162} ${C(c)}`, shown, reveal),
    snippet(
      'snmptrap (a test trap: linkUp)',
      (c) => `snmptrap -v 2c -c ${sq(C(c))} ${target}:${port || 162} '' 1.3.6.1.6.3.1.1.5.4 1.3.6.1.2.1.2.2.1.1.1 i 1`,
      shown,
      reveal,
    ),
  ];
}
