const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "3 d 4 h", "1 h 05 min", "12 min", "under a minute": how long until `at`. */
export function timeLeft(at: string | number, now: number): string {
  const ms = (typeof at === 'number' ? at : Date.parse(at)) - now;
  if (ms <= 0) return 'ended';
  if (ms < MINUTE) return 'under a minute';
  if (ms >= DAY) return `${Math.floor(ms / DAY)} d ${Math.floor((ms % DAY) / HOUR)} h`;
  const minutes = Math.floor((ms % HOUR) / MINUTE);
  if (ms >= HOUR) return `${Math.floor(ms / HOUR)} h ${String(minutes).padStart(2, '0')} min`;
  return `${minutes} min`;
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A time as the reader's locale writes it. */
export function formatTime(at: string | number): string {
  return dateTime.format(new Date(at));
}

/** A duration in seconds as "2 h", "30 min", "1 d 2 h", "45 s": two units at most. */
export function formatDuration(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const units: Array<[number, string]> = [
    [Math.floor(total / 86_400), 'd'],
    [Math.floor((total % 86_400) / 3_600), 'h'],
    [Math.floor((total % 3_600) / 60), 'min'],
  ];
  const first = units.findIndex(([count]) => count > 0);
  if (first === -1) return `${total} s`;
  return units
    .slice(first, first + 2)
    .filter(([count]) => count > 0)
    .map(([count, unit]) => `${count} ${unit}`)
    .join(' ');
}
