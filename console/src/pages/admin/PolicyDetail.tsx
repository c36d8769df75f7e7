import { Link, useLocation, useParams } from 'react-router';
import { ResourceView } from '../../components/ResourceView.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { ActionAnswer } from './ActionAnswer.tsx';
import { rotationOf } from './Policies.tsx';
import { RotationPolicyForm } from './RotationPolicyForm.tsx';
import { SessionPolicyForm } from './SessionPolicyForm.tsx';
import type { RotationPolicy, SessionPolicy } from './types.ts';
import { useAction } from './useAction.ts';
import { useKeptResource } from './useKeptResource.ts';

/** One policy: its rotation and check-out rules, and its session settings. */
export function PolicyDetail({ canChange }: { readonly canChange: boolean }) {
  const name = useParams().policy ?? '';
  usePageTitle(`Policy ${name} · Administration`);
  const created = (useLocation().state as { created?: unknown } | null)?.created === name;
  const path = `/v1/policies/${encodeURIComponent(name)}`;
  const rotation = useKeptResource<RotationPolicy>(path);
  const session = useKeptResource<SessionPolicy>(`${path}/session`);
  const rotationAction = useAction();
  const sessionAction = useAction();
  return (
    <>
      <p>
        <Link to="..">← All policies</Link>
      </p>
      {created && (
        <p className="notice" role="status">
          Created the policy {name} with the default settings. Adjust them below.
        </p>
      )}
      <section aria-labelledby="rotation-policy-title">
        <div className="section-head">
          <h2 id="rotation-policy-title">Policy {name}: rotation and check-out</h2>
        </div>
        <ResourceView resource={rotation} what={`the policy ${name}`}>
          {(policy) => (
            <>
              <p className="item-meta">Now: rotates {rotationOf(policy)}.</p>
              <RotationPolicyForm
                key={policy.id}
                path={path}
                policy={policy}
                canChange={canChange}
                action={rotationAction}
                onSaved={rotation.reload}
              />
            </>
          )}
        </ResourceView>
        <ActionAnswer state={rotationAction.state} />
      </section>
      <section aria-labelledby="session-policy-title">
        <div className="section-head">
          <h2 id="session-policy-title">Sessions under {name}</h2>
        </div>
        <ResourceView resource={session} what={`the session settings of ${name}`}>
          {(settings) => (
            <SessionPolicyForm
              path={`${path}/session`}
              settings={settings}
              canChange={canChange}
              action={sessionAction}
              onSaved={session.reload}
            />
          )}
        </ResourceView>
        <ActionAnswer state={sessionAction.state} />
      </section>
    </>
  );
}
