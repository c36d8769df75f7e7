const format = new Intl.DateTimeFormat(undefined, {
  day: 'numeric',
  month: 'short',
  timeZone: 'UTC',
});

/** "3 Dec" for the API's UTC day "2026-12-03". */
export function dayLabel(day: string): string {
  return format.format(new Date(`${day}T00:00:00Z`));
}
