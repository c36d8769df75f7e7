/** One part of a stacked bar: its count and the CSS class that colours it. */
export interface BarPart {
  readonly label: string;
  readonly count: number;
  readonly tone: 'ok' | 'warn' | 'bad' | 'neutral';
}

/**
 * A stacked horizontal bar with its legend. Drawn in SVG with widths as attributes, so it needs
 * no inline style (the console's CSP allows none); the legend carries the numbers in text.
 */
export function HealthBar({
  label,
  parts,
}: {
  readonly label: string;
  readonly parts: readonly BarPart[];
}) {
  const total = parts.reduce((sum, part) => sum + part.count, 0);
  let x = 0;
  const summary = parts.map((part) => `${part.count} ${part.label}`).join(', ');
  return (
    <figure className="healthbar">
      <svg
        viewBox="0 0 100 10"
        preserveAspectRatio="none"
        role="img"
        aria-label={`${label}: ${summary}`}
      >
        <rect className="bar-track" x="0" y="0" width="100" height="10" />
        {total > 0 &&
          parts.map((part) => {
            const width = (part.count / total) * 100;
            const rect = (
              <rect
                key={part.label}
                className={`bar-${part.tone}`}
                x={x}
                y="0"
                width={width}
                height="10"
              />
            );
            x += width;
            return rect;
          })}
      </svg>
      <figcaption>
        <ul className="legend">
          {parts.map((part) => (
            <li key={part.label}>
              <span className={`swatch swatch-${part.tone}`} aria-hidden="true" />
              <strong>{part.count}</strong> {part.label}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
