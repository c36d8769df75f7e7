import { Link } from 'react-router';
import { usePageTitle } from '../usePageTitle.ts';

export function NotFound() {
  usePageTitle('Not found');
  return (
    <>
      <h1 tabIndex={-1}>No page here</h1>
      <div className="panel">
        <p>
          Nothing in the console lives at this address. It may have been mistyped or moved.{' '}
          <Link to="/">Go to Home</Link>.
        </p>
      </div>
    </>
  );
}
