/**
 * Shown when the server does not know this browser. It asks how this instance signs people in
 * (`auth.methods`): "Sign in with <provider>" when OpenID Connect is configured, and a one-time sign-in code
 * (what `drydock up` and `drydock console` print). The server answers the code with an HttpOnly session
 * cookie, or a reason; after a success the page reloads, so the shell asks again who is signed in.
 */
import { useQuery } from "@tanstack/react-query";
import type { FormEvent } from "react";
import { useId, useRef, useState } from "react";
import { useLocation, useSearch } from "wouter";

import { api, errorMessage } from "../api.js";
import "./pages.css";

/** The server's reason for refusing a code, or the status in a sentence. */
async function refusal(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body.message === "string" && body.message !== "") return body.message;
  } catch {
    // A body that is not JSON says nothing more than the status does.
  }
  return response.status === 401
    ? "That sign-in code was not accepted: it may have been used already or expired."
    : `Sign-in failed (HTTP ${response.status}).`;
}

/** Trades a sign-in code for a session cookie; undefined on success, else what went wrong. */
async function redeemCode(code: string): Promise<string | undefined> {
  try {
    const response = await fetch("/auth/sign-in", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ code }),
    });
    return response.ok ? undefined : await refusal(response);
  } catch {
    return "The Drydock server cannot be reached. Is drydock up still running?";
  }
}

/** Where the provider sends the person back to: this page, as it was asked for. */
export function oidcStartUrl(location: { pathname: string; search: string }): string {
  return `/auth/oidc/start?${new URLSearchParams({ next: location.pathname + location.search }).toString()}`;
}

function SignInCodeForm({ autoFocus }: { autoFocus: boolean }) {
  const [code, setCode] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  const codeId = useId();
  const hintId = useId();
  const errorId = useId();

  async function signIn(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    if (code.trim() === "") {
      setError("Paste the sign-in code, or open the sign-in link drydock printed.");
      field.current?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    const refused = await redeemCode(code.trim());
    if (refused === undefined) {
      location.reload();
      return;
    }
    setError(refused);
    setBusy(false);
    field.current?.focus();
  }

  return (
    <form
      className="signin-code"
      onSubmit={(e) => void signIn(e)}
      noValidate
      aria-label="One-time sign-in code"
    >
      <label htmlFor={codeId}>Sign-in code</label>
      <input
        ref={field}
        id={codeId}
        name="code"
        type="password"
        autoComplete="one-time-code"
        autoFocus={autoFocus}
        value={code}
        onChange={(e) => setCode(e.target.value)}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${hintId} ${errorId}` : hintId}
      />
      <p id={hintId} className="muted">
        Run <code>drydock console</code> for a sign-in link.
      </p>
      {error && (
        <p id={errorId} className="form-error" role="alert">
          {error}
        </p>
      )}
      <button type="submit" className="primary" disabled={busy} aria-busy={busy || undefined}>
        Sign in
      </button>
    </form>
  );
}

export const SIGN_IN_METHODS_KEY = ["auth", "methods"] as const;

export function SignInPage() {
  const [path] = useLocation();
  const search = useSearch();
  const methods = useQuery({
    queryKey: SIGN_IN_METHODS_KEY,
    queryFn: () => api.auth.methods.query(),
  });
  const oidc = methods.data?.oidc;
  // Until the server says otherwise, offer the code: `drydock up` without a provider always has it.
  const codes = methods.data?.signInCode ?? true;
  return (
    <main className="signin">
      <div className="signin-card">
        <h1>Sign in to Drydock</h1>
        {methods.isError && (
          <p className="form-error" role="alert">
            Could not ask the server how to sign in: {errorMessage(methods.error)}
          </p>
        )}
        {oidc && (
          <a
            className="button primary signin-oidc"
            href={oidcStartUrl({ pathname: path, search: search ? `?${search}` : "" })}
          >
            Sign in with {oidc.name}
          </a>
        )}
        {oidc && codes && <p className="signin-or muted">or</p>}
        {codes && <SignInCodeForm autoFocus={!oidc} />}
      </div>
    </main>
  );
}
