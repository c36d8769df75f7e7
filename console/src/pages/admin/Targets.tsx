import { type FormEvent, useState } from 'react';
import { EmptyState } from '../../components/EmptyState.tsx';
import { ResourceView } from '../../components/ResourceView.tsx';
import { formatTime } from '../../format.ts';
import { useApi } from '../../session.tsx';
import { usePageTitle } from '../../usePageTitle.ts';
import { ActionAnswer } from './ActionAnswer.tsx';
import { PLATFORMS, type Target } from './types.ts';
import { useAction } from './useAction.ts';
import { useKeptResource } from './useKeptResource.ts';

type Platform = (typeof PLATFORMS)[number];

/** Targets: the systems whose accounts Tessera holds; admins add them. */
export function Targets({ canChange }: { readonly canChange: boolean }) {
  usePageTitle('Targets · Administration');
  const resource = useKeptResource<{ targets: Target[] }>('/v1/targets');
  return (
    <>
      {canChange && <AddTarget onAdded={resource.reload} />}
      <section aria-labelledby="targets-title">
        <div className="section-head">
          <h2 id="targets-title">Targets</h2>
        </div>
        <ResourceView resource={resource} what="targets">
          {({ targets }) =>
            targets.length === 0 ? (
              <EmptyState>
                No target yet. {canChange ? 'Add the first system above.' : ''}
              </EmptyState>
            ) : (
              <div className="table-scroll">
                <table>
                  <caption className="visually-hidden">Targets</caption>
                  <thead>
                    <tr>
                      <th scope="col">Name</th>
                      <th scope="col">Platform</th>
                      <th scope="col">Address</th>
                      <th scope="col">Options</th>
                      <th scope="col">Added</th>
                    </tr>
                  </thead>
                  <tbody>
                    {targets.map((target) => (
                      <tr key={target.id}>
                        <th scope="row" data-label="Name">
                          {target.name}
                        </th>
                        <td data-label="Platform">{labelOf(target.platform)}</td>
                        <td data-label="Address">
                          <code>
                            {target.host}:{target.port}
                            {target.database === null ? '' : `/${target.database}`}
                          </code>
                        </td>
                        <td data-label="Options">
                          <OptionTags options={target.options} />
                        </td>
                        <td data-label="Added">{formatTime(target.createdAt)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </ResourceView>
      </section>
    </>
  );
}

/** Options as the server shows them (a certificate appears only as set or not). */
function OptionTags({ options }: { readonly options: Target['options'] }) {
  const shown = Object.entries(options).filter(([, value]) => value !== null && value !== false);
  if (shown.length === 0) return <span className="hint">defaults</span>;
  // One element: on a narrow window the cell is a grid of label and value.
  return (
    <span>
      {shown.map(([key, value]) => (
        <span key={key} className="tag">
          {value === true ? key : `${key}: ${String(value)}`}
        </span>
      ))}
    </span>
  );
}

function AddTarget({ onAdded }: { readonly onAdded: () => void }) {
  const api = useApi();
  const action = useAction();
  const [name, setName] = useState('');
  const [platform, setPlatform] = useState<Platform>(PLATFORMS[0]);
  const [host, setHost] = useState('');
  const [port, setPort] = useState(String(PLATFORMS[0].port));
  const [database, setDatabase] = useState('');

  const choose = (next: string) => {
    const found = PLATFORMS.find((p) => p.name === next) ?? PLATFORMS[0];
    // The usual port follows the platform, unless someone typed another one.
    if (port === String(platform.port)) setPort(String(found.port));
    setPlatform(found);
  };

  const submit = async (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const body = {
      name: name.trim(),
      platform: platform.name,
      host: host.trim(),
      port: Number(port),
      ...(platform.database && database.trim() !== '' ? { database: database.trim() } : {}),
    };
    const ok = await action.run(
      `add the target ${body.name}`,
      () => api.send<Target>('POST', '/v1/targets', body),
      (target) =>
        `Added ${target.name}: ${labelOf(target.platform)} at ${target.host}:${target.port}.`,
    );
    if (!ok) return;
    setName('');
    setHost('');
    setDatabase('');
    onAdded();
  };

  return (
    <form className="panel" onSubmit={(e) => void submit(e)} aria-labelledby="add-target-title">
      <h2 id="add-target-title">Add a target</h2>
      <div className="field-grid">
        <div className="field">
          <label htmlFor="target-name">Target name</label>
          <input
            id="target-name"
            required
            maxLength={128}
            pattern="[A-Za-z0-9][A-Za-z0-9._\-]*"
            autoComplete="off"
            spellCheck={false}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="target-platform">Platform</label>
          <select
            id="target-platform"
            value={platform.name}
            onChange={(e) => choose(e.target.value)}
          >
            {PLATFORMS.map((p) => (
              <option key={p.name} value={p.name}>
                {p.label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="target-host">Host name or address</label>
          <input
            id="target-host"
            required
            maxLength={253}
            pattern="[A-Za-z0-9.:_\-]+"
            autoComplete="off"
            spellCheck={false}
            value={host}
            onChange={(e) => setHost(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="target-port">Port</label>
          <input
            id="target-port"
            type="number"
            required
            min={1}
            max={65535}
            step={1}
            value={port}
            onChange={(e) => setPort(e.target.value)}
          />
        </div>
        {platform.database && (
          <div className="field">
            <label htmlFor="target-database">Database (optional)</label>
            <input
              id="target-database"
              maxLength={63}
              autoComplete="off"
              spellCheck={false}
              value={database}
              onChange={(e) => setDatabase(e.target.value)}
            />
          </div>
        )}
      </div>
      <p className="hint">
        {platform.name === 'linux'
          ? 'Tessera connects once to pin the host key it finds.'
          : 'TLS and other options: tessera target add or tessera target set.'}
      </p>
      <div className="actions">
        <button type="submit" disabled={action.busy}>
          Add target
        </button>
      </div>
      <ActionAnswer state={action.state} />
    </form>
  );
}

function labelOf(platform: string): string {
  return PLATFORMS.find((p) => p.name === platform)?.label ?? platform;
}
