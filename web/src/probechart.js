// The latency chart of one probe (device page, probe page): probe_duration_seconds over the last
// hour, one line per vantage point, with failed runs marked (a red band behind the time slot and a
// red dot on the vantage point's line). Polled by its owner (probes.js), not streamed.
import uPlot from 'uplot';
import { parseValue, queryRange, selector, serverClock } from './api.js';
import { h, setText } from './dom.js';

export const WINDOW_S = 3600;
const MIN_STEP_S = 5; // at most 720 slots an hour
const MIN_SPAN_S = 300; // the narrowest time axis (a probe scheduled a moment ago)
const PLOT_HEIGHT = 150;
const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const AXIS = '#8b93a7';
const GRID = 'rgba(139, 147, 167, 0.12)';
const RED = '#f2495c';
// No green or red: those mean success and failure here.
const PALETTE = ['#5794f2', '#b877d9', '#5ed3e6', '#fade2a', '#e36fb0', '#37b5a5', '#ff9830', '#8e99ad'];
const TIME_INCRS = [5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];

const trim3 = (x) => Number(x.toPrecision(3)).toString();

// Seconds as a short duration: 132 µs, 12.4 ms, 1.5 s, 2m 5s.
export function fmtSeconds(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a === 0) return '0 s';
  if (a < 1e-3) return `${trim3(v * 1e6)} µs`;
  if (a < 1) return `${trim3(v * 1e3)} ms`;
  if (a < 60) return `${trim3(v)} s`;
  const m = Math.floor(a / 60);
  return `${v < 0 ? '-' : ''}${m}m ${Math.round(a - m * 60)}s`;
}

const pad2 = (n) => String(n).padStart(2, '0');
function clock(t, withSeconds) {
  const d = new Date(t * 1000);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return withSeconds ? `${hm}:${pad2(d.getSeconds())}` : hm;
}

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

// The slot width for a schedule interval: the interval itself (one run per slot), at least 5 s.
export function stepFor(intervalMs) {
  const s = Math.ceil((Number(intervalMs) || 30000) / 1000);
  return Math.max(MIN_STEP_S, Math.min(s, 300));
}

// Indices of points with no neighbour: drawn as dots, since a line needs two points.
function isolated(u, sidx) {
  const ys = u.data[sidx];
  const out = [];
  for (let i = 0; i < ys.length; i++) {
    if (ys[i] != null && ys[i - 1] == null && ys[i + 1] == null) out.push(i);
  }
  return out;
}

export class ProbeChart {
  constructor(probeId, label) {
    this.probeId = probeId;
    this.step = MIN_STEP_S;
    this.data = { xs: [], names: [], ys: [], fails: [], start: 0, end: 0 };
    this.u = null;
    this.names = []; // vantage names the uPlot instance was built for
    this.plotEl = h('div', { class: 'plot' });
    this.emptyEl = h('div', { class: 'empty' }, 'No results in the last hour yet.');
    this.legendEl = h('div', { class: 'legend probe-legend' });
    this.timeEl = h('span', { class: 'legend-time' });
    this.el = h(
      'figure',
      { class: 'probe-chart', 'data-chart': 'probe-latency', 'data-probe': probeId, 'aria-label': label || 'Latency over the last hour' },
      h('figcaption', { class: 'probe-chart-title' }, (this.titleEl = h('span', null, 'Latency, last hour')), h('span', { class: 'muted small' }, ' · per vantage point; red: failed runs')),
      h('div', { class: 'plot-wrap' }, this.plotEl, this.emptyEl),
      this.legendEl,
    );
  }

  setInterval(intervalMs) {
    this.step = stepFor(intervalMs);
  }

  // Asks the server for the last hour and redraws. Throws ApiError.
  async refresh(signal) {
    const step = this.step;
    const end = Math.floor(serverClock.now() / step) * step;
    const start = end - WINDOW_S;
    const labels = { probe_id: String(this.probeId) };
    const lat = `avg by (vantage) (avg_over_time(${selector('probe_duration_seconds', labels)}[${step}s]))`;
    const ok = `min by (vantage) (min_over_time(${selector('probe_success', labels)}[${step}s]))`;
    const [latR, okR] = await Promise.all([queryRange(lat, start, end, step, signal), queryRange(ok, start, end, step, signal)]);
    const n = Math.round((end - start) / step) + 1;
    const xs = Array.from({ length: n }, (_, i) => start + i * step);
    const names = [...new Set([...latR, ...okR].map((s) => (s.metric && s.metric.vantage) || 'server'))].sort();
    const ys = names.map(() => new Array(n).fill(null));
    const fails = names.map(() => new Array(n).fill(false));
    const slot = (t) => Math.round((Number(t) - start) / step);
    for (const s of latR) {
      const j = names.indexOf((s.metric && s.metric.vantage) || 'server');
      for (const [t, v] of s.values || []) {
        const i = slot(t);
        const x = parseValue(v);
        if (i >= 0 && i < n && Number.isFinite(x)) ys[j][i] = x;
      }
    }
    for (const s of okR) {
      const j = names.indexOf((s.metric && s.metric.vantage) || 'server');
      for (const [t, v] of s.values || []) {
        const i = slot(t);
        if (i >= 0 && i < n && parseValue(v) === 0) fails[j][i] = true;
      }
    }
    // A probe with less than an hour of results: show from its first result (at least 5 min).
    let first = -1;
    for (let i = 0; i < n && first < 0; i++) if (ys.some((y) => y[i] != null) || fails.some((f) => f[i])) first = i;
    const xmin = first < 0 ? start : Math.max(start, Math.min(end - MIN_SPAN_S, xs[first] - step));
    this.data = { xs, names, ys, fails, start, end, step, xmin };
    this.draw();
  }

  draw() {
    const d = this.data;
    const points = d.ys.reduce((a, y) => a + y.filter((v) => v != null).length, 0);
    const failed = d.fails.reduce((a, f) => a + f.filter(Boolean).length, 0);
    this.el.dataset.points = String(points);
    this.el.dataset.failed = String(failed);
    this.el.dataset.vantages = d.names.join(',');
    this.el.classList.toggle('has-data', points > 0 || failed > 0);
    const span = d.end - (d.xmin != null ? d.xmin : d.start);
    setText(this.titleEl, span >= WINDOW_S ? 'Latency, last hour' : `Latency, last ${Math.max(1, Math.round(span / 60))} min`);
    if (!this.plotEl.isConnected) return;
    if (!this.u || this.names.join('\n') !== d.names.join('\n')) this.mount();
    else {
      this.u.setData([d.xs, ...d.ys], false);
      this.u.setScale('x', { min: d.xmin, max: d.end });
    }
    this.drawLegend();
  }

  mount() {
    if (this.u) this.u.destroy();
    this.itemsKey = null; // new series: fresh legend (all lines shown)
    const d = this.data;
    this.names = d.names;
    const series = [{}];
    d.names.forEach((name, j) => {
      const color = PALETTE[j % PALETTE.length];
      series.push({
        label: name,
        stroke: color,
        width: 1.5,
        fill: alpha(color, 0.06),
        spanGaps: false,
        points: { show: true, size: 5, fill: color, filter: isolated },
      });
    });
    const opts = {
      width: Math.max(100, this.plotEl.clientWidth),
      height: PLOT_HEIGHT,
      padding: [8, 12, 0, 0],
      legend: { show: false },
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7, width: 2, fill: '#11151d' } },
      scales: {
        x: { time: true, range: () => [this.data.xmin, this.data.end] },
        y: {
          range: (u, lo, hi) => {
            const top = Number.isFinite(hi) && hi > 0 ? hi * 1.15 : 0.001;
            return [0, top];
          },
        },
      },
      axes: [
        {
          stroke: AXIS,
          font: FONT,
          grid: { stroke: GRID, width: 1 },
          ticks: { stroke: GRID, width: 1, size: 4 },
          space: 70,
          size: 26,
          gap: 4,
          incrs: TIME_INCRS,
          values: (u, splits, ax, space, incr) => splits.map((t) => clock(t, incr < 60)),
        },
        {
          stroke: AXIS,
          font: FONT,
          grid: { stroke: GRID, width: 1 },
          ticks: { show: false },
          gap: 6,
          space: 30,
          size: 58,
          values: (u, splits) => splits.map((v) => fmtSeconds(v)),
        },
      ],
      series,
      hooks: {
        // Failed slots: a red band behind everything (drawClear runs before series are drawn).
        drawClear: [(u) => this.drawFailBands(u)],
        // And a red dot on the line of the vantage point that failed.
        draw: [(u) => this.drawFailDots(u)],
        setCursor: [() => this.drawLegend()],
      },
    };
    this.u = new uPlot(opts, [d.xs, ...d.ys], this.plotEl);
    if (!this.ro) {
      this.ro = new ResizeObserver(() => this.resize());
      this.ro.observe(this.plotEl);
    }
  }

  drawFailBands(u) {
    const d = this.data;
    if (!d.fails.length) return;
    const ctx = u.ctx;
    const { top, height, left, width } = u.bbox;
    ctx.save();
    ctx.fillStyle = alpha(RED, 0.16);
    for (let i = 0; i < d.xs.length; i++) {
      if (!d.fails.some((f, j) => f[i] && u.series[j + 1].show)) continue;
      let x0 = u.valToPos(d.xs[i] - d.step, 'x', true);
      let x1 = u.valToPos(d.xs[i], 'x', true);
      x0 = Math.max(left, x0);
      x1 = Math.min(left + width, Math.max(x1, x0 + 2));
      if (x1 > x0) ctx.fillRect(x0, top, x1 - x0, height);
    }
    ctx.restore();
  }

  drawFailDots(u) {
    const d = this.data;
    const ctx = u.ctx;
    const r = 2.5 * uPlot.pxRatio;
    ctx.save();
    ctx.fillStyle = RED;
    ctx.strokeStyle = '#11151d';
    ctx.lineWidth = uPlot.pxRatio;
    d.fails.forEach((f, j) => {
      if (!u.series[j + 1].show) return;
      for (let i = 0; i < f.length; i++) {
        const y = d.ys[j][i];
        if (!f[i] || y == null) continue;
        ctx.beginPath();
        ctx.arc(u.valToPos(d.xs[i], 'x', true), u.valToPos(y, 'y', true), r, 0, 2 * Math.PI);
        ctx.fill();
        ctx.stroke();
      }
    });
    ctx.restore();
  }

  drawLegend() {
    const d = this.data;
    const idx = this.u ? this.u.cursor.idx : null;
    const hovering = idx != null && idx < d.xs.length;
    const key = d.names.join('\n');
    if (!this.items || this.itemsKey !== key) {
      this.items = d.names.map((name, j) => {
        const val = h('span', { class: 'legend-value' }, '–');
        const fail = h('span', { class: 'legend-fail' });
        const item = h(
          'button',
          { type: 'button', class: 'legend-item', title: `show/hide ${name}`, 'aria-pressed': 'true' },
          h('i', { class: 'swatch', style: { background: PALETTE[j % PALETTE.length] } }),
          h('span', { class: 'legend-label' }, name),
          val,
          fail,
        );
        item.addEventListener('click', () => {
          if (!this.u) return;
          const s = this.u.series[j + 1];
          this.u.setSeries(j + 1, { show: !s.show });
          item.classList.toggle('off', !this.u.series[j + 1].show);
          item.setAttribute('aria-pressed', String(this.u.series[j + 1].show));
        });
        return { item, val, fail };
      });
      this.itemsKey = key;
      this.legendEl.replaceChildren(...this.items.map((x) => x.item), this.timeEl);
    }
    d.names.forEach((name, j) => {
      const it = this.items[j];
      let v = null;
      let failedHere = false;
      if (hovering) {
        v = d.ys[j][idx];
        failedHere = d.fails[j][idx];
      } else {
        for (let i = d.ys[j].length - 1; i >= 0; i--) {
          if (d.ys[j][i] != null || d.fails[j][i]) {
            v = d.ys[j][i];
            failedHere = d.fails[j][i];
            break;
          }
        }
      }
      setText(it.val, fmtSeconds(v));
      const nFail = d.fails[j].filter(Boolean).length;
      setText(it.fail, hovering ? (failedHere ? '✗ failed' : '') : nFail ? `✗ ${nFail} failed` : '');
      it.fail.classList.toggle('now', failedHere);
    });
    setText(this.timeEl, hovering ? clock(d.xs[idx], true) : '');
  }

  resize() {
    if (!this.u) return;
    const w = Math.max(100, Math.floor(this.plotEl.clientWidth));
    if (w !== this.u.width) this.u.setSize({ width: w, height: PLOT_HEIGHT });
  }

  destroy() {
    if (this.ro) this.ro.disconnect();
    this.ro = null;
    if (this.u) this.u.destroy();
    this.u = null;
  }
}
