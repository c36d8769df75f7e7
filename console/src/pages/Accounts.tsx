import { Route, Routes } from 'react-router';
import { AccountDetail } from './accounts/AccountDetail.tsx';
import { AccountList } from './accounts/AccountList.tsx';
import { OnboardForm } from './accounts/OnboardForm.tsx';
import { NotFound } from './NotFound.tsx';
import './accounts/accounts.css';

/**
 * Safes and accounts: browse and search, onboard, and on each account's page rotate, verify,
 * reveal, check out and in, and connect. `new` cannot be an account: an account's page has two
 * parts, its target and its user name.
 */
export function Accounts() {
  return (
    <div className="acct-page">
      <Routes>
        <Route index element={<AccountList />} />
        <Route path="new" element={<OnboardForm />} />
        <Route path=":target/:username" element={<AccountDetail />} />
        <Route path="*" element={<NotFound />} />
      </Routes>
    </div>
  );
}
