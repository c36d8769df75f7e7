import { Navigate, NavLink, Route, Routes } from 'react-router';
import { useUser } from '../session.tsx';
import { usePageTitle } from '../usePageTitle.ts';
import { Groups } from './admin/Groups.tsx';
import { Policies } from './admin/Policies.tsx';
import { PolicyDetail } from './admin/PolicyDetail.tsx';
import { SafeDetail } from './admin/SafeDetail.tsx';
import { Safes } from './admin/Safes.tsx';
import { Targets } from './admin/Targets.tsx';
import { Users } from './admin/Users.tsx';
import './admin/forms.css';
import './admin/admin.css';

/** Users is the first section, at /admin itself: the main navigation's link lands there. */
const SECTIONS = [
  { to: '/admin', label: 'Users' },
  { to: '/admin/safes', label: 'Safes and members' },
  { to: '/admin/targets', label: 'Targets' },
  { to: '/admin/policies', label: 'Policies' },
  { to: '/admin/groups', label: 'Groups' },
] as const;

/**
 * Administration: users and roles, safes with their members and access policies, targets,
 * rotation and session policies, approver groups. Admins change them; auditors read the same
 * screens without the forms. Either way the server decides: a refused change shows its answer.
 */
export function Admin() {
  const user = useUser();
  const canChange = user.role === 'admin';

  if (user.role === 'user') return <NotForUsers />;
  return (
    <div className="admin-page">
      <h1 tabIndex={-1}>Administration</h1>
      {!canChange && (
        <p className="notice">You can read these settings. Changing them is for administrators.</p>
      )}
      <nav aria-label="Administration" className="subnav">
        <ul>
          {SECTIONS.map((section) => (
            <li key={section.to}>
              <NavLink to={section.to} end={section.to === '/admin'}>
                {section.label}
              </NavLink>
            </li>
          ))}
        </ul>
      </nav>
      <Routes>
        <Route index element={<Users canChange={canChange} />} />
        <Route path="safes" element={<Safes canChange={canChange} />} />
        <Route path="safes/:safe" element={<SafeDetail canChange={canChange} />} />
        <Route path="targets" element={<Targets canChange={canChange} />} />
        <Route path="policies" element={<Policies canChange={canChange} />} />
        <Route path="policies/:policy" element={<PolicyDetail canChange={canChange} />} />
        <Route path="groups" element={<Groups canChange={canChange} />} />
        <Route path="*" element={<Navigate to="/admin" replace />} />
      </Routes>
    </div>
  );
}

function NotForUsers() {
  usePageTitle('Administration');
  return (
    <div className="admin-page">
      <h1 tabIndex={-1}>Administration</h1>
      <div className="panel">
        <p>
          Administration is for Tessera administrators. To be added to a safe or a group, ask one of
          them.
        </p>
      </div>
    </div>
  );
}
