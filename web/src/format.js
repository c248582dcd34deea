// Number formatting with units, shared by axes, legends and stat read-outs.

const IEC = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

function trim(n, digits) {
  // 3 significant digits at most, without trailing zeros ("1.50" -> "1.5").
  return Number(n.toFixed(digits)).toString();
}

export function fmtBytes(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const neg = v < 0;
  let x = Math.abs(v);
  let i = 0;
  while (x >= 1024 && i < IEC.length - 1) {
    x /= 1024;
    i++;
  }
  const digits = x >= 100 || i === 0 ? 0 : x >= 10 ? 1 : 2;
  return (neg ? '-' : '') + trim(x, digits) + ' ' + IEC[i];
}

export function fmtBytesRate(v) {
  return v == null || !Number.isFinite(v) ? '–' : fmtBytes(v) + '/s';
}

export function fmtPercent(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  return trim(v, a >= 10 ? 1 : a >= 1 ? 1 : 2) + '%';
}

export function fmtNumber(v) {
  if (v == null || !Number.isFinite(v)) return '–';
  const a = Math.abs(v);
  if (a >= 1e9) return trim(v / 1e9, 2) + 'G';
  if (a >= 1e6) return trim(v / 1e6, 2) + 'M';
  if (a >= 1e4) return trim(v / 1e3, 1) + 'k';
  return trim(v, a >= 100 ? 0 : 2);
}

export function fmtDuration(sec) {
  if (sec == null || !Number.isFinite(sec) || sec < 0) return '–';
  sec = Math.floor(sec);
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  if (d > 0) return `${d}d ${h}h ${m}m`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m ${s}s`;
  return `${s}s`;
}

// Axis tick increments for byte axes: powers of two times 1024^k, so ticks read
// "512 MiB", "1 GiB", "2 GiB" instead of "1.86 GiB".
export const BYTE_INCRS = (() => {
  const out = [];
  for (let k = 0; k < 6; k++) {
    for (let m = 1; m < 1024; m *= 2) out.push(m * 1024 ** k);
  }
  return out;
})();

export const UNITS = {
  percent: { fmt: fmtPercent, axis: fmtPercent },
  bytes: { fmt: fmtBytes, axis: fmtBytes, incrs: BYTE_INCRS },
  bytesRate: { fmt: fmtBytesRate, axis: fmtBytesRate, incrs: BYTE_INCRS },
  number: { fmt: fmtNumber, axis: fmtNumber },
};
