// Time-bucketed data behind one chart.
//
// Samples are placed in 1-second buckets. A sample at time t goes to bucket ceil(t): that is
// exactly the grid point query_range (step 1) reports it at, since the range API returns, at
// each step, the latest sample at or before it. So points from the initial range load and from
// the live stream line up, and a series never gets two samples in one bucket.
//
// Each chart declares inputs (metric name, counter or gauge, which slot a series adds into) and
// outputs (a function of the slots of one bucket). Counters are turned into per-second rates
// per series (dropping negative differences: counter resets); the rates or gauge values of all
// series mapped to a slot are summed. Building the plot data is then a walk over at most
// `window` buckets, done at most once per second and only for charts that got new samples.

export const STEP = 1;

// Two series of the same input must not be summed into one slot twice for the same bucket,
// and a counter needs its previous sample: both are kept per series under this key.
export function seriesKey(metric) {
  const keys = Object.keys(metric).sort();
  let s = '';
  for (const k of keys) s += k + '\u0001' + metric[k] + '\u0002';
  return s;
}

export function bucketOf(t) {
  return Math.ceil(t / STEP - 1e-6) * STEP;
}

// A counter sample more than this far from the previous one starts afresh (no rate over a
// long outage).
const MAX_RATE_GAP = 120;

export class ChartModel {
  constructor(def, windowSec) {
    this.def = def;
    this.window = windowSec;
    this.nSlots = def.slots.length;
    this.reset();
  }

  reset() {
    this.buckets = new Map(); // bucket time -> Float64Array(nSlots), NaN = no data
    this.series = new Map(); // series key -> {b, v} last sample seen
    this.lastBucket = -Infinity;
    this.dirty = true;
    this.labelSets = new Map(); // per input slot: distinct label values (e.g. cpu count)
  }

  slotArray(b) {
    let a = this.buckets.get(b);
    if (!a) {
      a = new Float64Array(this.nSlots).fill(NaN);
      this.buckets.set(b, a);
    }
    return a;
  }

  add(b, slot, x) {
    const a = this.slotArray(b);
    a[slot] = Number.isNaN(a[slot]) ? x : a[slot] + x;
    if (b > this.lastBucket) this.lastBucket = b;
    this.dirty = true;
    // build() trims the window; while nothing draws (hidden tab) trim here now and then.
    if (this.buckets.size > this.window / STEP + 300) this.trim(this.lastBucket - this.window + STEP);
  }

  // Drops buckets before minStart; returns the first bucket kept (or lastBucket).
  trim(minStart) {
    let first = this.lastBucket;
    for (const b of this.buckets.keys()) {
      if (b < minStart) this.buckets.delete(b);
      else if (b < first) first = b;
    }
    return first;
  }

  // metric: label set; input: the input definition it matched; samples: [[t, value number], ...]
  ingest(metric, input, samples) {
    const slot = input.slot(metric);
    if (slot == null || slot < 0) return;
    if (input.track) {
      const v = metric[input.track];
      if (v != null) this.labelSets.set(v, true);
    }
    const key = seriesKey(metric);
    let st = this.series.get(key);
    const minB = this.lastBucket - this.window;
    for (const [t, v] of samples) {
      if (!Number.isFinite(v)) continue; // NaN/Inf: nothing to draw, keep the last good sample
      const b = bucketOf(t);
      if (st && b <= st.b) continue; // already seen (overlap of range load and live stream)
      if (input.counter) {
        if (st && b - st.b <= MAX_RATE_GAP) {
          const dv = v - st.v;
          if (dv >= 0 && b >= minB) this.add(b, slot, dv / (b - st.b));
        }
      } else if (b >= minB) {
        this.add(b, slot, v);
      }
      if (st) {
        st.b = b;
        st.v = v;
      } else {
        st = { b, v };
        this.series.set(key, st);
      }
    }
  }

  // The most recent value of one slot (looking back a few buckets), or null.
  latestSlot(slot) {
    if (!Number.isFinite(this.lastBucket)) return null;
    for (let b = this.lastBucket; b > this.lastBucket - 30 * STEP; b -= STEP) {
      const a = this.buckets.get(b);
      if (a && !Number.isNaN(a[slot])) return a[slot];
    }
    return null;
  }

  trackedCount() {
    return this.labelSets.size;
  }

  // Returns {xs, ys: [Float64Array|Array per output], points} for the sliding window.
  build() {
    this.dirty = false;
    const outs = this.def.outputs;
    if (!Number.isFinite(this.lastBucket)) {
      return { xs: [], ys: outs.map(() => []), points: 0 };
    }
    const end = this.lastBucket;
    const first = this.trim(end - this.window + STEP);
    const n = Math.round((end - first) / STEP) + 1;
    const xs = new Array(n);
    const ys = outs.map(() => new Array(n));
    let points = 0;
    for (let i = 0; i < n; i++) {
      const b = first + i * STEP;
      xs[i] = b;
      const a = this.buckets.get(b);
      for (let j = 0; j < outs.length; j++) {
        let y = null;
        if (a) {
          const r = outs[j].value(a);
          if (r != null && Number.isFinite(r)) y = r;
        }
        ys[j][i] = y;
      }
      if (ys[0][i] != null) points++;
    }
    return { xs, ys, points };
  }
}
