import { Link, useParams } from 'react-router';
import { ResourceView } from '../../components/ResourceView.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { AccessPolicyPanel } from './AccessPolicyForm.tsx';
import { SafeMembers } from './SafeMembers.tsx';
import type { SafeDetail as SafeReply } from './types.ts';
import { useKeptResource } from './useKeptResource.ts';

/** One safe: its members with their permissions, and its access policy. */
export function SafeDetail({ canChange }: { readonly canChange: boolean }) {
  const safe = useParams().safe ?? '';
  usePageTitle(`Safe ${safe} · Administration`);
  const resource = useKeptResource<SafeReply>(`/v1/safes/${encodeURIComponent(safe)}`);
  return (
    <>
      <p>
        <Link to="..">← All safes</Link>
      </p>
      <ResourceView resource={resource} what={`the safe ${safe}`}>
        {(found) => (
          <>
            <div className="panel">
              <h2>Safe {found.name}</h2>
              <p>{found.description || 'No description.'}</p>
            </div>
            <SafeMembers
              safe={found.name}
              members={found.members}
              canChange={canChange}
              onChanged={resource.reload}
            />
            <AccessPolicyPanel safe={found.name} canChange={canChange} />
          </>
        )}
      </ResourceView>
    </>
  );
}
