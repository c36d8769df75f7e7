import { lazy, Suspense } from 'react';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { useResource } from '../../useResource.ts';
import type { RotationActivity } from './types.ts';
import './chart.css';

const DAYS = 30;

const ActivityBars = lazy(() =>
  import('./ActivityBars.tsx').then((module) => ({ default: module.ActivityBars })),
);

/**
 * Rotations and failed rotations per UTC day over the last 30 days, from the audit trail
 * (GET /v1/rotation/activity), for admins and auditors on Home. The totals and a table of the
 * numbers are text; the bars follow once their code has loaded.
 */
export function RotationChart() {
  const resource = useResource<RotationActivity>(`/v1/rotation/activity?days=${DAYS}`);
  return (
    <article className="panel rotation-chart" aria-labelledby="rotation-chart-title">
      <h3 id="rotation-chart-title">Rotations, last {DAYS} days</h3>
      <ResourceView resource={resource} what="rotation activity">
        {({ days }) => <Activity days={days} />}
      </ResourceView>
    </article>
  );
}

function Activity({ days }: { readonly days: RotationActivity['days'] }) {
  const rotated = days.reduce((sum, d) => sum + d.rotated, 0);
  const failed = days.reduce((sum, d) => sum + d.failed, 0);
  if (rotated + failed === 0) {
    return (
      <EmptyState>
        No rotation in the last {DAYS} days. Accounts rotate on their policy&apos;s schedule, or
        when someone rotates them from Accounts.
      </EmptyState>
    );
  }
  const summary =
    `${rotated} ${rotated === 1 ? 'rotation' : 'rotations'} and ` +
    `${failed} failed ${failed === 1 ? 'attempt' : 'attempts'} in the last ${DAYS} days`;
  return (
    <figure className="chart-figure">
      <div className="chart-area">
        <Suspense fallback={<div className="chart-svg chart-pending" />}>
          <ActivityBars days={days} title={`Bar chart: ${summary}`} />
        </Suspense>
      </div>
      <figcaption>
        <ul className="legend">
          <li>
            <span className="swatch swatch-ok" aria-hidden="true" />
            <strong>{rotated}</strong> rotated
          </li>
          <li>
            <span className="swatch swatch-bad" aria-hidden="true" />
            <strong>{failed}</strong> failed
          </li>
        </ul>
        <details className="chart-numbers">
          <summary>The numbers per day</summary>
          <table>
            <caption className="visually-hidden">Rotations per UTC day</caption>
            <thead>
              <tr>
                <th scope="col">Day (UTC)</th>
                <th scope="col">Rotated</th>
                <th scope="col">Failed</th>
              </tr>
            </thead>
            <tbody>
              {days
                .filter((d) => d.rotated + d.failed > 0)
                .map((d) => (
                  <tr key={d.day}>
                    <th scope="row">{d.day}</th>
                    <td>{d.rotated}</td>
                    <td>{d.failed}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        </details>
      </figcaption>
    </figure>
  );
}
