// How figures and times are written on the page.

const UNITS = ['KiB', 'MiB', 'GiB'];

/** "512 B" under 1024 bytes, else one decimal in KiB, MiB or GiB. */
export function formatSize(bytes) {
  const value = Number(bytes);
  if (!Number.isFinite(value)) return '?';
  if (value < 1024) return `${value} B`;
  let scaled = value / 1024;
  let unit = 0;
  while (scaled >= 1024 && unit < UNITS.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${scaled.toFixed(1)} ${UNITS[unit]}`;
}

/** "1 item", "3 items". */
export function plural(count, one, many) {
  return `${count} ${count === 1 ? one : many}`;
}

export function formatPercent(value) {
  const number = Number(value);
  return Number.isFinite(number) ? `${number.toFixed(1)}%` : '?';
}

const pad = (number) => String(number).padStart(2, '0');

/** "14:03:09" in local time. */
export function clock(date = new Date()) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** "2026-11-01 14:03" in local time; the day is left out when it is today. */
export function formatTime(iso, now = new Date()) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const time = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  if (date.toDateString() === now.toDateString()) return time;
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${time}`;
}

/** "4 s ago", "3 min ago", "2 h ago", "5 d ago". */
export function ago(iso, now = new Date()) {
  const date = new Date(iso);
  if (!iso || Number.isNaN(date.getTime())) return 'never';
  const seconds = Math.max(0, Math.round((now - date) / 1000));
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

/** The type without parameters: "text/plain", not "text/plain; charset=utf-8". */
export function bareType(type) {
  return String(type || '').split(';')[0].trim();
}
