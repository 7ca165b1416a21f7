/**
 * API keys for scripts and CI: create one (name, role ceiling, optionally one project and an expiry), see its
 * secret once, list and revoke mine. Admins of the current project also see, and may revoke, every key
 * limited to that project.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { FormEvent, ReactNode } from "react";
import { useId, useState } from "react";

import { api, errorMessage } from "../api.js";
import { ConfirmDialog } from "../execution/ConfirmDialog.js";
import { useIdentity } from "../identity/identity-context.js";
import { roleGate, ROLE_CHOICES } from "../identity/roles.js";
import { useCurrentProject } from "../identity/useCurrentProject.js";
import { EmptyState, ErrorState, Loading } from "../ui/states.js";
import type { ApiKey, Role } from "../ui/types.js";
import type { ApiKeyDraft } from "./api-key-form.js";
import { apiKeyInput, apiKeyState, EMPTY_API_KEY_DRAFT, MAX_API_KEY_DAYS } from "./api-key-form.js";
import { formatLocalTime } from "./relative-time.js";
import { retryUnlessRefused } from "./retry.js";
import "./pages.css";

const MY_KEYS = ["apiKeys", "list"] as const;
const projectKeysKey = (project: string) => ["apiKeys", "listProject", project] as const;

/** The secret of the key just created: shown this once, with a copy button. */
function NewSecret({ secret, name, onDone }: { secret: string; name: string; onDone: () => void }) {
  const [copied, setCopied] = useState<boolean>();
  const copy = () =>
    navigator.clipboard.writeText(secret).then(
      () => setCopied(true),
      () => setCopied(false),
    );
  return (
    <div className="panel new-secret" role="region" aria-label="New API key">
      <h2>Key {name} created</h2>
      <p className="warning">
        Copy the key now: it is shown only this once, and Drydock keeps only its hash.
      </p>
      <pre data-testid="api-key-secret" tabIndex={0} aria-label="The new API key">
        {secret}
      </pre>
      <div className="form-actions">
        <button type="button" className="primary" onClick={() => void copy()}>
          Copy key
        </button>
        <button type="button" onClick={onDone}>
          Done
        </button>
        {copied === true && <span role="status">Copied.</span>}
        {copied === false && (
          <span role="status">The browser did not allow copying; select the key and copy it.</span>
        )}
      </div>
    </div>
  );
}

function DraftField({
  label,
  error,
  children,
}: {
  label: string;
  error?: string | undefined;
  children: (id: string) => ReactNode;
}) {
  const id = useId();
  return (
    <div className="filter">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {error && (
        <p className="inline-error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}

function CreateKeyForm({ onCreated }: { onCreated: (secret: string, name: string) => void }) {
  const identity = useIdentity();
  const queryClient = useQueryClient();
  const [draft, setDraft] = useState<ApiKeyDraft>(EMPTY_API_KEY_DRAFT);
  const [problem, setProblem] = useState<{ field: string; message: string }>();
  const create = useMutation({
    mutationFn: (input: Parameters<typeof api.apiKeys.create.mutate>[0]) =>
      api.apiKeys.create.mutate(input),
    onSuccess: ({ key, secret }) => {
      setDraft(EMPTY_API_KEY_DRAFT);
      onCreated(secret, key.name);
      return queryClient.invalidateQueries({ queryKey: ["apiKeys"] });
    },
  });
  const set = (patch: Partial<ApiKeyDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const result = apiKeyInput(draft);
    setProblem(result.ok ? undefined : result);
    if (result.ok) create.mutate(result.input);
  };
  return (
    <form
      className="filters api-key-form"
      onSubmit={submit}
      noValidate
      aria-label="Create an API key"
    >
      <DraftField label="Name" error={problem?.field === "name" ? problem.message : undefined}>
        {(id) => (
          <input id={id} value={draft.name} onChange={(e) => set({ name: e.target.value })} />
        )}
      </DraftField>
      <DraftField label="Role ceiling">
        {(id) => (
          <select
            id={id}
            value={draft.ceiling}
            onChange={(e) => set({ ceiling: e.target.value as Role })}
          >
            {ROLE_CHOICES.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        )}
      </DraftField>
      <DraftField label="Project">
        {(id) => (
          <select id={id} value={draft.project} onChange={(e) => set({ project: e.target.value })}>
            <option value="">Every project I am in</option>
            {(identity?.projects ?? []).map((p) => (
              <option key={p.id} value={p.id}>
                {p.id}
              </option>
            ))}
          </select>
        )}
      </DraftField>
      <DraftField
        label="Expires in (days)"
        error={problem?.field === "expiresInDays" ? problem.message : undefined}
      >
        {(id) => (
          <input
            id={id}
            type="number"
            min={1}
            max={MAX_API_KEY_DAYS}
            placeholder="never"
            value={draft.expiresInDays}
            onChange={(e) => set({ expiresInDays: e.target.value })}
          />
        )}
      </DraftField>
      <button type="submit" className="primary" disabled={create.isPending}>
        Create key
      </button>
      {create.isError && (
        <p className="form-error" role="alert">
          {errorMessage(create.error)}
        </p>
      )}
    </form>
  );
}

function KeyRow({
  apiKey,
  showOwner,
  now,
  onRevoke,
}: {
  apiKey: ApiKey;
  showOwner: boolean;
  now: number;
  onRevoke: (key: ApiKey) => void;
}) {
  const state = apiKeyState(apiKey, now);
  const when = (iso: string | undefined, none: string) =>
    iso ? formatLocalTime(iso) : <span className="muted">{none}</span>;
  return (
    <tr data-state={state}>
      <td>
        {apiKey.name}
        <span className="note">
          <code>{apiKey.prefix}…</code>
        </span>
      </td>
      {showOwner && <td>{apiKey.owner.name}</td>}
      <td>{apiKey.ceiling}</td>
      <td>{apiKey.project ?? <span className="muted">all mine</span>}</td>
      <td className="wide">{formatLocalTime(apiKey.createdAt)}</td>
      <td className="wide">{when(apiKey.expiresAt, "never")}</td>
      <td className="wide">{when(apiKey.lastUsedAt, "never used")}</td>
      <td>
        {state === "active" ? (
          <button
            type="button"
            className="link"
            onClick={() => onRevoke(apiKey)}
            aria-label={`Revoke key ${apiKey.name}`}
          >
            Revoke
          </button>
        ) : state === "revoked" && apiKey.revokedAt ? (
          `revoked ${formatLocalTime(apiKey.revokedAt)}`
        ) : (
          "expired"
        )}
      </td>
    </tr>
  );
}

function KeyTable({
  keys,
  label,
  showOwner,
  revoke,
}: {
  keys: readonly ApiKey[];
  label: string;
  showOwner: boolean;
  revoke: (key: ApiKey) => Promise<unknown>;
}) {
  const [revoking, setRevoking] = useState<ApiKey>();
  const mutation = useMutation({ mutationFn: revoke, onSuccess: () => setRevoking(undefined) });
  const now = Date.now();
  if (keys.length === 0) return <EmptyState title="No API keys" />;
  return (
    <div className="table-scroll">
      <table className="list" aria-label={label}>
        <thead>
          <tr>
            <th scope="col">Name / prefix</th>
            {showOwner && <th scope="col">Owner</th>}
            <th scope="col">Ceiling</th>
            <th scope="col">Project</th>
            <th scope="col" className="wide">
              Created
            </th>
            <th scope="col" className="wide">
              Expires
            </th>
            <th scope="col" className="wide">
              Last used
            </th>
            <th scope="col">Revoked</th>
          </tr>
        </thead>
        <tbody>
          {keys.map((k) => (
            <KeyRow key={k.id} apiKey={k} showOwner={showOwner} now={now} onRevoke={setRevoking} />
          ))}
        </tbody>
      </table>
      {revoking && (
        <ConfirmDialog
          title={`Revoke key ${revoking.name}?`}
          confirmLabel="Revoke key"
          danger
          busy={mutation.isPending}
          onConfirm={() => mutation.mutate(revoking)}
          onCancel={() => {
            mutation.reset();
            setRevoking(undefined);
          }}
        >
          <p>Scripts using it are refused from now on. This cannot be undone.</p>
          {mutation.isError && (
            <p className="form-error" role="alert">
              {errorMessage(mutation.error)}
            </p>
          )}
        </ConfirmDialog>
      )}
    </div>
  );
}

function MyKeys() {
  const queryClient = useQueryClient();
  const keys = useQuery({ queryKey: MY_KEYS, queryFn: () => api.apiKeys.list.query() });
  if (keys.isPending) return <Loading what="your API keys" />;
  if (keys.isError)
    return (
      <ErrorState
        title="Your API keys could not be loaded"
        message={errorMessage(keys.error)}
        retry={() => void keys.refetch()}
      />
    );
  return (
    <KeyTable
      keys={keys.data}
      label="My API keys"
      showOwner={false}
      revoke={async (key) => {
        await api.apiKeys.revoke.mutate({ id: key.id });
        await queryClient.invalidateQueries({ queryKey: ["apiKeys"] });
      }}
    />
  );
}

function ProjectKeys({ project }: { project: string }) {
  const queryClient = useQueryClient();
  const keys = useQuery({
    queryKey: projectKeysKey(project),
    queryFn: () => api.apiKeys.listProject.query({ project }),
    retry: retryUnlessRefused,
  });
  return (
    <section aria-labelledby="project-keys-heading">
      <h2 id="project-keys-heading">Keys limited to project {project}</h2>
      {keys.isPending ? (
        <Loading what={`the keys of ${project}`} />
      ) : keys.isError ? (
        <ErrorState
          title={`The keys of ${project} could not be loaded`}
          message={errorMessage(keys.error)}
          retry={() => void keys.refetch()}
        />
      ) : (
        <KeyTable
          keys={keys.data}
          label={`API keys of project ${project}`}
          showOwner
          revoke={async (key) => {
            await api.apiKeys.revokeProject.mutate({ project, id: key.id });
            await queryClient.invalidateQueries({ queryKey: ["apiKeys"] });
          }}
        />
      )}
    </section>
  );
}

export function ApiKeysPage() {
  const identity = useIdentity();
  const { project } = useCurrentProject();
  const [created, setCreated] = useState<{ secret: string; name: string }>();
  const projectAdmin = project !== undefined && roleGate(identity?.me, project, "admin").allowed;
  return (
    <section className="page">
      <h1>API keys</h1>
      <p className="muted">
        For scripts and CI: <code>drydock login --api-key &lt;key&gt;</code>, or{" "}
        <code>DRYDOCK_TOKEN=&lt;key&gt;</code>. A key acts as you, never above its role ceiling.
      </p>
      {created ? (
        <NewSecret {...created} onDone={() => setCreated(undefined)} />
      ) : (
        <CreateKeyForm onCreated={(secret, name) => setCreated({ secret, name })} />
      )}
      <h2>My keys</h2>
      <MyKeys />
      {projectAdmin && <ProjectKeys project={project} />}
    </section>
  );
}
