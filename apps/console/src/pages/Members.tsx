/**
 * A project's members, for its admins: who they are, their role, since when; add a person by email with a
 * role, change a role, remove someone. Every change is `projects.setMember`, which answers with the whole
 * list; a refusal (the last admin cannot leave) is shown as the server words it.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useId, useState } from "react";

import { api, errorMessage } from "../api.js";
import { useMe } from "../identity/identity-context.js";
import { ROLE_CHOICES } from "../identity/roles.js";
import { ConfirmDialog } from "../execution/ConfirmDialog.js";
import { EmptyState, ErrorState, Loading } from "../ui/states.js";
import type { Member, Role } from "../ui/types.js";
import { formatLocalTime } from "./relative-time.js";
import { retryUnlessRefused } from "./retry.js";
import "./pages.css";

const membersKey = (project: string) => ["projects", "members", project] as const;

/** `projects.setMember`, writing the list it answers into the members query. */
function useSetMember(project: string) {
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: ({ user, role }: { user: string; role: Role | null }) =>
      api.projects.setMember.mutate({ project, user, role }),
    onSuccess: (members) => queryClient.setQueryData(membersKey(project), members),
  });
}

function RoleSelect({
  value,
  onChange,
  label,
  disabled,
}: {
  value: Role;
  onChange: (role: Role) => void;
  label: string;
  disabled?: boolean;
}) {
  return (
    <select
      aria-label={label}
      value={value}
      disabled={disabled}
      onChange={(e) => onChange(e.target.value as Role)}
    >
      {ROLE_CHOICES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}

function AddMember({ project }: { project: string }) {
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const [problem, setProblem] = useState<string>();
  const add = useSetMember(project);
  const emailId = useId();
  const submit = (event: FormEvent) => {
    event.preventDefault();
    const user = email.trim();
    setProblem(user === "" ? "Type the person's email address." : undefined);
    if (user !== "") add.mutate({ user, role }, { onSuccess: () => setEmail("") });
  };
  const error = problem ?? (add.isError ? errorMessage(add.error) : undefined);
  return (
    <form className="filters" onSubmit={submit} noValidate aria-label="Add a member">
      <div className="filter">
        <label htmlFor={emailId}>Email</label>
        <input
          id={emailId}
          type="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          autoComplete="off"
          aria-invalid={error ? true : undefined}
        />
      </div>
      <div className="filter">
        <span className="filter-label">Role</span>
        <RoleSelect value={role} onChange={setRole} label="Role of the new member" />
      </div>
      <button type="submit" className="primary" disabled={add.isPending}>
        Add member
      </button>
      {error && (
        <p className="form-error" role="alert">
          {error}
        </p>
      )}
    </form>
  );
}

function MemberRow({
  project,
  member,
  isMe,
  onRemove,
}: {
  project: string;
  member: Member;
  isMe: boolean;
  onRemove: (member: Member) => void;
}) {
  const change = useSetMember(project);
  const who = member.user.email ?? member.user.id;
  return (
    <tr>
      <td>
        {member.user.name}
        {isMe && <span className="note">you</span>}
      </td>
      <td className="wide">{member.user.email ?? <span className="muted">–</span>}</td>
      <td>
        <RoleSelect
          value={member.role}
          label={`Role of ${member.user.name}`}
          disabled={change.isPending}
          onChange={(role) => change.mutate({ user: member.user.id, role })}
        />
        {change.isError && (
          <p className="inline-error" role="alert">
            {errorMessage(change.error)}
          </p>
        )}
      </td>
      <td className="wide">{formatLocalTime(member.addedAt)}</td>
      <td>
        <button
          type="button"
          className="link"
          onClick={() => onRemove(member)}
          aria-label={`Remove ${member.user.name} (${who})`}
        >
          Remove
        </button>
      </td>
    </tr>
  );
}

function ConfirmRemove({
  project,
  member,
  onDone,
}: {
  project: string;
  member: Member;
  onDone: () => void;
}) {
  const remove = useSetMember(project);
  return (
    <ConfirmDialog
      title={`Remove ${member.user.name}?`}
      confirmLabel="Remove member"
      danger
      busy={remove.isPending}
      onConfirm={() => remove.mutate({ user: member.user.id, role: null }, { onSuccess: onDone })}
      onCancel={onDone}
    >
      <p>They lose access to project {project} at once: its workflows, executions and sessions.</p>
      {remove.isError && (
        <p className="form-error" role="alert">
          {errorMessage(remove.error)}
        </p>
      )}
    </ConfirmDialog>
  );
}

function MemberTable({ project, members }: { project: string; members: readonly Member[] }) {
  const me = useMe();
  const [removing, setRemoving] = useState<Member>();
  const sorted = [...members].sort((a, b) => a.user.name.localeCompare(b.user.name));
  return (
    <div className="table-scroll">
      <table className="list" aria-label="Members">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col" className="wide">
              Email
            </th>
            <th scope="col">Role</th>
            <th scope="col" className="wide">
              Added
            </th>
            <th scope="col">
              <span className="visually-hidden">Actions</span>
            </th>
          </tr>
        </thead>
        <tbody>
          {sorted.map((m) => (
            <MemberRow
              key={m.user.id}
              project={project}
              member={m}
              isMe={m.user.id === me?.user.id}
              onRemove={setRemoving}
            />
          ))}
        </tbody>
      </table>
      {removing && (
        <ConfirmRemove project={project} member={removing} onDone={() => setRemoving(undefined)} />
      )}
    </div>
  );
}

export function MembersPage({ project }: { project: string }) {
  const members = useQuery({
    queryKey: membersKey(project),
    queryFn: () => api.projects.members.query({ project }),
    retry: retryUnlessRefused,
  });
  let body;
  if (members.isPending) body = <Loading what="members" />;
  else if (members.isError)
    body = (
      <ErrorState
        title="The members could not be loaded"
        message={errorMessage(members.error)}
        retry={() => void members.refetch()}
      />
    );
  else if (members.data.length === 0) body = <EmptyState title="This project has no members" />;
  else body = <MemberTable project={project} members={members.data} />;
  return (
    <section className="page">
      <h1>Members of {project}</h1>
      <p className="muted">
        Viewers see the project; editors also register, launch, abort and open IDEs; admins also
        manage members, keys and the audit log.
      </p>
      <AddMember project={project} />
      {body}
    </section>
  );
}
