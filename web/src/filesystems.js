// Filesystem usage: one bar per mountpoint, refreshed every 30 s (it changes slowly).
import { h, setText } from './dom.js';
import { fmtBytes, fmtPercent } from './format.js';

export class FilesystemPanel {
  constructor() {
    this.body = h('div', { class: 'fs-list' });
    this.emptyEl = h('div', { class: 'empty' }, h('span', { class: 'spinner' }), 'waiting for the first samples…');
    this.subEl = h('span', { class: 'panel-sub' });
    this.el = h(
      'section',
      { class: 'panel panel-fs', 'data-panel': 'filesystems' },
      h('header', { class: 'panel-head' }, h('h2', null, 'Filesystems'), this.subEl),
      h('div', { class: 'fs-wrap' }, this.body, this.emptyEl),
    );
    this.rows = new Map();
  }

  clear() {
    this.body.replaceChildren();
    this.rows.clear();
    setText(this.subEl, '');
    this.el.classList.remove('has-data');
  }

  // size/avail: query_range results of node_filesystem_size_bytes / _avail_bytes.
  update(size, avail) {
    const lastVal = (r) => {
      const v = r.values && r.values.length ? parseFloat(r.values[r.values.length - 1][1]) : NaN;
      return v;
    };
    const key = (m) => `${m.mountpoint}\u0001${m.device}`;
    const avails = new Map(avail.map((r) => [key(r.metric), lastVal(r)]));
    const seen = new Set();
    const list = [];
    for (const r of size) {
      const m = r.metric;
      const k = key(m);
      if (seen.has(k)) continue;
      seen.add(k);
      const total = lastVal(r);
      const free = avails.get(k);
      if (!Number.isFinite(total) || total <= 0) continue;
      list.push({ k, m, total, free: Number.isFinite(free) ? free : NaN });
    }
    list.sort((a, b) => String(a.m.mountpoint).localeCompare(String(b.m.mountpoint)));

    const keep = new Set(list.map((x) => x.k));
    for (const [k, row] of this.rows) {
      if (!keep.has(k)) {
        row.el.remove();
        this.rows.delete(k);
      }
    }
    let totalAll = 0;
    let usedAll = 0;
    for (const x of list) {
      let row = this.rows.get(x.k);
      if (!row) {
        row = {
          mount: h('span', { class: 'fs-mount' }),
          meta: h('span', { class: 'fs-meta' }),
          pct: h('span', { class: 'fs-pct' }),
          bar: h('i', { class: 'fs-bar-fill' }),
          text: h('span', { class: 'fs-text' }),
        };
        row.el = h(
          'div',
          { class: 'fs-row' },
          h('div', { class: 'fs-line' }, row.mount, row.meta, row.pct),
          h('div', { class: 'fs-bar' }, row.bar),
          row.text,
        );
        this.rows.set(x.k, row);
      }
      this.body.append(row.el); // keeps sort order
      const used = Number.isFinite(x.free) ? x.total - x.free : NaN;
      const pct = Number.isFinite(used) ? (used / x.total) * 100 : NaN;
      totalAll += x.total;
      if (Number.isFinite(used)) usedAll += used;
      setText(row.mount, x.m.mountpoint || x.m.device || '?');
      setText(row.meta, [x.m.device, x.m.fstype].filter(Boolean).join(' · '));
      setText(row.pct, fmtPercent(pct));
      row.bar.style.width = Number.isFinite(pct) ? `${Math.min(100, pct).toFixed(1)}%` : '0';
      row.bar.className = 'fs-bar-fill' + (pct >= 90 ? ' crit' : pct >= 75 ? ' warn' : '');
      setText(row.text, `${fmtBytes(used)} used of ${fmtBytes(x.total)} · ${fmtBytes(x.free)} free`);
    }
    setText(this.subEl, list.length ? `${fmtBytes(usedAll)} / ${fmtBytes(totalAll)}` : '');
    this.el.classList.toggle('has-data', list.length > 0);
  }
}
