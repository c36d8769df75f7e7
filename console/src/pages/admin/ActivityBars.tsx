import {
  Bar,
  BarChart,
  CartesianGrid,
  Tooltip,
  type TooltipContentProps,
  XAxis,
  YAxis,
} from 'recharts';
import { dayLabel } from './dayLabel.ts';
import type { RotationActivity } from './types.ts';

type Day = RotationActivity['days'][number];

/** styles.css's --ok and --bad: an SVG fill attribute does not read CSS variables. */
const ROTATED_COLOUR = '#2e7d4f';
const FAILED_COLOUR = '#c53030';

/**
 * The bars of the rotation chart, drawn as SVG by recharts. Its own styles are set through the
 * DOM (CSSOM), which the console's CSP allows; sizes and colours otherwise come from chart.css.
 * Loaded on its own, after Home has shown: recharts is most of the console's weight.
 */
export function ActivityBars({ days, title }: { readonly days: readonly Day[]; title: string }) {
  const data = days.map((d) => ({ ...d, label: dayLabel(d.day) }));
  return (
    // recharts' keyboard layer: arrow keys move the tooltip from day to day.
    <BarChart
      responsive
      data={data}
      className="chart-svg"
      margin={{ top: 8, right: 8 }}
      title={title}
    >
      <CartesianGrid vertical={false} className="chart-grid" />
      <XAxis dataKey="label" interval="preserveStartEnd" tickLine={false} minTickGap={12} />
      <YAxis allowDecimals={false} width={32} tickLine={false} axisLine={false} />
      <Tooltip cursor={{ className: 'chart-cursor' }} content={DayTooltip} />
      <Bar
        dataKey="rotated"
        name="rotated"
        stackId="day"
        fill={ROTATED_COLOUR}
        isAnimationActive={false}
      />
      <Bar
        dataKey="failed"
        name="failed"
        stackId="day"
        fill={FAILED_COLOUR}
        isAnimationActive={false}
      />
    </BarChart>
  );
}

/** The tooltip, drawn here so that its look comes from chart.css rather than inline styles. */
function DayTooltip({ active, payload }: TooltipContentProps) {
  const day = payload[0]?.payload as Day | undefined;
  if (!active || day === undefined) return null;
  return (
    <div className="chart-tooltip">
      <p>
        <strong>{dayLabel(day.day)}</strong>
      </p>
      <p>{day.rotated} rotated</p>
      <p>{day.failed} failed</p>
    </div>
  );
}
