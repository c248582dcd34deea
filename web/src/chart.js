// One dashboard panel: a header with read-outs, a uPlot chart and a legend.
import uPlot from 'uplot';
import { h, setText } from './dom.js';
import { UNITS } from './format.js';

const FONT = '11px system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif';
const AXIS = '#8b93a7';
const GRID = 'rgba(139, 147, 167, 0.12)';
const PLOT_HEIGHT = 210;
// Whole seconds at least: samples are 1 s apart.
const TIME_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];

function alpha(hex, a) {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function gradient(color, top, bottom) {
  return (u) => {
    const { top: y0, height } = u.bbox;
    if (!height) return alpha(color, top);
    const g = u.ctx.createLinearGradient(0, y0, 0, y0 + height);
    g.addColorStop(0, alpha(color, top));
    g.addColorStop(1, alpha(color, bottom));
    return g;
  };
}

let measureCtx = null;
function textWidth(s) {
  if (!measureCtx) {
    measureCtx = document.createElement('canvas').getContext('2d');
    measureCtx.font = FONT;
  }
  return measureCtx.measureText(s).width;
}

const pad2 = (n) => String(n).padStart(2, '0');
function fmtTime(t, withSeconds) {
  const d = new Date(t * 1000);
  const hm = `${pad2(d.getHours())}:${pad2(d.getMinutes())}`;
  return withSeconds ? `${hm}:${pad2(d.getSeconds())}` : hm;
}

// Cumulative sums for a stacked chart (null stays null: a gap).
function stack(ys) {
  const out = [];
  const n = ys.length ? ys[0].length : 0;
  const acc = new Float64Array(n);
  for (const y of ys) {
    const c = new Array(n);
    for (let i = 0; i < n; i++) {
      if (y[i] == null) c[i] = null;
      else c[i] = acc[i] += y[i];
    }
    out.push(c);
  }
  return out;
}

export class ChartPanel {
  constructor(def, model) {
    this.def = def;
    this.model = model;
    this.unit = UNITS[def.unit];
    this.data = { xs: [], ys: def.outputs.map(() => []), points: 0 };
    this.hidden = def.outputs.map(() => false);

    this.statsEl = h('div', { class: 'panel-stats' });
    this.subEl = h('span', { class: 'panel-sub' });
    this.plotEl = h('div', { class: 'plot' });
    this.emptyEl = h('div', { class: 'empty' }, h('span', { class: 'spinner' }), 'waiting for the first samples…');
    this.timeEl = h('span', { class: 'legend-time' });
    this.legendItems = def.outputs.map((o, j) => {
      const val = h('span', { class: 'legend-value' }, '–');
      const item = h(
        'button',
        { class: 'legend-item', type: 'button', title: def.stacked ? o.label : `show/hide ${o.label}` },
        h('i', { class: 'swatch', style: { background: o.color } }),
        h('span', { class: 'legend-label' }, o.label),
        val,
      );
      if (!def.stacked) item.addEventListener('click', () => this.toggle(j, item));
      return { item, val };
    });
    this.el = h(
      'section',
      { class: 'panel', 'data-chart': def.id },
      h('header', { class: 'panel-head' }, h('h2', null, def.title), this.subEl, this.statsEl),
      h('div', { class: 'plot-wrap' }, this.plotEl, this.emptyEl),
      h('div', { class: 'legend' }, this.legendItems.map((l) => l.item), this.timeEl),
    );
    this.statEls = [];
    this.u = null;
  }

  // Creates the uPlot instance; the panel must be in the document (it needs a width).
  mount() {
    const def = this.def;
    const unit = this.unit;
    const series = [{}];
    def.outputs.forEach((o, j) => {
      let fill;
      if (def.stacked) fill = alpha(o.color, 0.55);
      else if (o.fill) fill = gradient(o.color, 0.32, 0.02);
      series.push({
        label: o.label,
        stroke: o.color,
        width: def.stacked ? 1 : 1.5,
        fill,
        points: { show: false },
        spanGaps: false,
        show: !this.hidden[j],
      });
    });
    const bands = [];
    if (def.stacked) for (let i = 1; i < def.outputs.length; i++) bands.push({ series: [i + 1, i] });

    const opts = {
      width: Math.max(100, this.plotEl.clientWidth),
      height: PLOT_HEIGHT,
      padding: [10, 14, 0, 0],
      legend: { show: false },
      cursor: {
        drag: { x: false, y: false, setScale: false },
        points: { size: 7, width: 2, fill: '#11151d' },
      },
      bands,
      scales: {
        // Always the whole window, data filling in from the right, like any "last 15 minutes" view.
        x: {
          time: true,
          range: (u, min, max) =>
            min == null || max == null ? [min, max] : [Math.min(min, max - this.model.window + 1), max],
        },
        y: {
          range: (u, dmin, dmax) => {
            return def.yRange(this.model, Number.isFinite(dmax) ? dmax : null);
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
          size: 28,
          gap: 4,
          incrs: TIME_INCRS,
          values: (u, splits, ax, space, incr) => splits.map((t) => fmtTime(t, incr < 60)),
        },
        {
          stroke: AXIS,
          font: FONT,
          grid: { stroke: GRID, width: 1 },
          ticks: { show: false },
          gap: 6,
          space: 34,
          incrs: unit.incrs,
          values: (u, splits) => splits.map((v) => unit.axis(v)),
          size: (u, values) => {
            if (!values) return 48;
            let w = 0;
            for (const v of values) if (v) w = Math.max(w, textWidth(v));
            return Math.ceil(w) + 14;
          },
        },
      ],
      series,
      hooks: {
        setCursor: [() => this.updateLegend()],
      },
    };
    const u = new uPlot(opts, [[], ...def.outputs.map(() => [])], this.plotEl);
    this.u = u;
    this.ro = new ResizeObserver(() => this.resize());
    this.ro.observe(this.plotEl);
  }

  resize() {
    if (!this.u) return;
    const w = Math.max(100, Math.floor(this.plotEl.clientWidth));
    if (w !== this.u.width) this.u.setSize({ width: w, height: PLOT_HEIGHT });
  }

  toggle(j, item) {
    this.hidden[j] = !this.hidden[j];
    item.classList.toggle('off', this.hidden[j]);
    if (this.u) this.u.setSeries(j + 1, { show: !this.hidden[j] });
  }

  // Rebuilds the plotted data from the model (called at most once per second, when dirty).
  update(models) {
    const data = this.model.build();
    this.data = data;
    const plotted = this.def.stacked ? stack(data.ys) : data.ys;
    if (this.u) this.u.setData([data.xs, ...plotted]);
    this.el.dataset.points = String(data.points);
    if (data.xs.length) this.el.dataset.last = String(data.xs[data.xs.length - 1]);
    this.el.classList.toggle('has-data', data.points > 0);
    this.refreshHeader(models);
    this.updateLegend();
  }

  refreshHeader(models) {
    setText(this.subEl, this.def.subtitle && models ? this.def.subtitle(models) : '');
    const stats = this.data.points ? this.def.stats(this.data, this.model) : [];
    while (this.statEls.length < stats.length) {
      const label = h('span', { class: 'stat-label' });
      const value = h('span', { class: 'stat-value' });
      const el = h('span', { class: 'stat' }, label, value);
      this.statsEl.append(el);
      this.statEls.push({ el, label, value });
    }
    this.statEls.forEach((s, i) => {
      const st = stats[i];
      s.el.hidden = !st;
      if (st) {
        setText(s.label, st.label);
        setText(s.value, st.value);
      }
    });
  }

  updateLegend() {
    const { xs, ys } = this.data;
    let idx = this.u ? this.u.cursor.idx : null;
    const hovering = idx != null && idx < xs.length;
    this.legendItems.forEach((l, j) => {
      let v = null;
      if (hovering) v = ys[j][idx];
      else {
        for (let i = ys[j].length - 1; i >= 0 && i >= ys[j].length - 10; i--) {
          if (ys[j][i] != null) {
            v = ys[j][i];
            break;
          }
        }
      }
      setText(l.val, v == null ? '–' : this.unit.fmt(v));
    });
    setText(this.timeEl, hovering ? fmtTime(xs[idx], true) : '');
  }

  // Clears the chart (host switch, reload).
  clear() {
    this.data = { xs: [], ys: this.def.outputs.map(() => []), points: 0 };
    if (this.u) this.u.setData([[], ...this.def.outputs.map(() => [])]);
    delete this.el.dataset.points;
    delete this.el.dataset.last;
    this.el.classList.remove('has-data');
    this.refreshHeader(null);
    this.updateLegend();
  }
}
