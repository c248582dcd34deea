// The charts of the host page: what they query and how the samples become plotted series.
import { fmtBytes, fmtBytesRate, fmtNumber, fmtPercent } from './format.js';

export const COLORS = {
  green: '#73bf69',
  yellow: '#fade2a',
  red: '#f2495c',
  blue: '#5794f2',
  orange: '#ff9830',
  purple: '#b877d9',
  cyan: '#5ed3e6',
  teal: '#37b5a5',
  pink: '#e36fb0',
  grey: '#8e99ad',
};

const CPU_MODES = ['user', 'nice', 'system', 'iowait', 'irq', 'softirq', 'steal', 'idle', 'other'];
const CPU_IDX = Object.fromEntries(CPU_MODES.map((m, i) => [m, i]));
const OTHER = CPU_IDX.other;
const IDLE = CPU_IDX.idle;

function cpuTotal(a) {
  let t = 0;
  let any = false;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isNaN(a[i])) {
      t += a[i];
      any = true;
    }
  }
  return any && t > 0 ? t : NaN;
}

function cpuShare(idx) {
  return (a) => {
    const t = cpuTotal(a);
    if (Number.isNaN(t)) return null;
    const v = a[idx];
    return Number.isNaN(v) ? 0 : (v / t) * 100;
  };
}

const nz = (v) => (Number.isNaN(v) ? null : v);

// The stat shown in the panel header, from the last drawn point of an output.
function last(data, j) {
  const ys = data.ys[j];
  for (let i = ys.length - 1; i >= 0 && i >= ys.length - 10; i--) if (ys[i] != null) return ys[i];
  return null;
}

export const PANELS = [
  {
    id: 'cpu',
    title: 'CPU',
    unit: 'percent',
    stacked: true,
    yRange: () => [0, 100],
    slots: CPU_MODES,
    inputs: [
      {
        name: 'node_cpu_seconds_total',
        counter: true,
        track: 'cpu',
        slot: (m) => CPU_IDX[m.mode] ?? OTHER,
      },
    ],
    outputs: [
      { label: 'user', color: COLORS.blue, value: cpuShare(CPU_IDX.user) },
      { label: 'system', color: COLORS.red, value: cpuShare(CPU_IDX.system) },
      { label: 'iowait', color: COLORS.orange, value: cpuShare(CPU_IDX.iowait) },
      { label: 'nice', color: COLORS.purple, value: cpuShare(CPU_IDX.nice) },
      { label: 'irq', color: COLORS.yellow, value: cpuShare(CPU_IDX.irq) },
      { label: 'softirq', color: COLORS.cyan, value: cpuShare(CPU_IDX.softirq) },
      { label: 'steal', color: COLORS.pink, value: cpuShare(CPU_IDX.steal) },
    ],
    subtitle: (models) => {
      const n = models.cpu.trackedCount();
      return n ? `${n} ${n === 1 ? 'core' : 'cores'}` : '';
    },
    stats: (data) => {
      let busy = 0;
      let any = false;
      for (let j = 0; j < data.ys.length; j++) {
        const v = last(data, j);
        if (v != null) {
          busy += v;
          any = true;
        }
      }
      return [{ label: 'busy', value: any ? fmtPercent(Math.min(100, busy)) : '–' }];
    },
  },
  {
    id: 'memory',
    title: 'Memory',
    unit: 'bytes',
    slots: ['total', 'avail', 'free', 'buffers', 'cached', 'swapTotal', 'swapFree'],
    inputs: [
      ['node_memory_MemTotal_bytes', 0],
      ['node_memory_MemAvailable_bytes', 1],
      ['node_memory_MemFree_bytes', 2],
      ['node_memory_Buffers_bytes', 3],
      ['node_memory_Cached_bytes', 4],
      ['node_memory_SwapTotal_bytes', 5],
      ['node_memory_SwapFree_bytes', 6],
    ].map(([name, i]) => ({ name, counter: false, slot: () => i })),
    outputs: [
      {
        label: 'used',
        color: COLORS.blue,
        fill: true,
        value: (a) => (Number.isNaN(a[0]) || Number.isNaN(a[1]) ? null : a[0] - a[1]),
      },
      {
        label: 'cache + buffers',
        color: COLORS.orange,
        value: (a) =>
          Number.isNaN(a[3]) && Number.isNaN(a[4]) ? null : (nz(a[3]) ?? 0) + (nz(a[4]) ?? 0),
      },
      { label: 'available', color: COLORS.green, value: (a) => nz(a[1]) },
    ],
    yRange: (model, dmax) => {
      const total = model.latestSlot(0);
      return [0, Math.max(total ?? 0, dmax ?? 0, 1024)];
    },
    subtitle: (models) => {
      const m = models.memory;
      const total = m.latestSlot(0);
      if (total == null) return '';
      let s = `${fmtBytes(total)} total`;
      const st = m.latestSlot(5);
      const sf = m.latestSlot(6);
      if (st != null && st > 0 && sf != null) s += ` · swap ${fmtBytes(st - sf)} / ${fmtBytes(st)}`;
      return s;
    },
    stats: (data, model) => {
      const used = last(data, 0);
      const total = model.latestSlot(0);
      return [
        { label: 'used', value: used == null ? '–' : fmtBytes(used) },
        { label: '', value: used != null && total ? fmtPercent((used / total) * 100) : '–' },
      ];
    },
  },
  {
    id: 'load',
    title: 'Load average',
    unit: 'number',
    slots: ['load1', 'load5', 'load15'],
    inputs: [
      { name: 'node_load1', counter: false, slot: () => 0 },
      { name: 'node_load5', counter: false, slot: () => 1 },
      { name: 'node_load15', counter: false, slot: () => 2 },
    ],
    outputs: [
      { label: '1m', color: COLORS.yellow, value: (a) => nz(a[0]) },
      { label: '5m', color: COLORS.orange, value: (a) => nz(a[1]) },
      { label: '15m', color: COLORS.red, value: (a) => nz(a[2]) },
    ],
    yRange: (model, dmax) => [0, Math.max(1, (dmax ?? 0) * 1.15)],
    subtitle: (models) => {
      const n = models.cpu.trackedCount();
      return n ? `${n} ${n === 1 ? 'core' : 'cores'}` : '';
    },
    stats: (data) => [{ label: '1m', value: fmtNumber(last(data, 0)) }],
  },
  {
    id: 'disk',
    title: 'Disk I/O',
    unit: 'bytesRate',
    slots: ['read', 'write'],
    inputs: [
      { name: 'node_disk_read_bytes_total', counter: true, track: 'device', slot: () => 0 },
      { name: 'node_disk_written_bytes_total', counter: true, track: 'device', slot: () => 1 },
    ],
    outputs: [
      { label: 'read', color: COLORS.green, fill: true, value: (a) => nz(a[0]) },
      { label: 'write', color: COLORS.purple, fill: true, value: (a) => nz(a[1]) },
    ],
    yRange: (model, dmax) => [0, Math.max(1024, (dmax ?? 0) * 1.15)],
    subtitle: (models) => {
      const n = models.disk.trackedCount();
      return n ? `${n} ${n === 1 ? 'device' : 'devices'}` : '';
    },
    stats: (data) => [
      { label: 'r', value: fmtBytesRate(last(data, 0)) },
      { label: 'w', value: fmtBytesRate(last(data, 1)) },
    ],
  },
  {
    id: 'network',
    title: 'Network',
    unit: 'bytesRate',
    slots: ['rx', 'tx'],
    inputs: [
      {
        name: 'node_network_receive_bytes_total',
        counter: true,
        track: 'device',
        exclude: { device: 'lo' },
        slot: (m) => (m.device === 'lo' ? -1 : 0),
      },
      {
        name: 'node_network_transmit_bytes_total',
        counter: true,
        track: 'device',
        exclude: { device: 'lo' },
        slot: (m) => (m.device === 'lo' ? -1 : 1),
      },
    ],
    outputs: [
      { label: 'rx', color: COLORS.cyan, fill: true, value: (a) => nz(a[0]) },
      { label: 'tx', color: COLORS.yellow, fill: true, value: (a) => nz(a[1]) },
    ],
    yRange: (model, dmax) => [0, Math.max(1024, (dmax ?? 0) * 1.15)],
    subtitle: (models) => {
      const n = models.network.trackedCount();
      return n ? `${n} ${n === 1 ? 'interface' : 'interfaces'}` : '';
    },
    stats: (data) => [
      { label: 'rx', value: fmtBytesRate(last(data, 0)) },
      { label: 'tx', value: fmtBytesRate(last(data, 1)) },
    ],
  },
];
