/**
 * Shown when the server does not know this browser: paste the token `drydock up` printed. The server answers
 * 204 and sets an HttpOnly session cookie, or 401 with a reason; after a success the page reloads, so the
 * shell asks again who is signed in.
 */
import type { FormEvent } from "react";
import { useId, useRef, useState } from "react";

import "./pages.css";

async function refusal(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { message?: unknown };
    if (typeof body.message === "string" && body.message !== "") return body.message;
  } catch {
    // A body that is not JSON says nothing more than the status does.
  }
  return response.status === 401
    ? "That token was not accepted."
    : `Sign-in failed (HTTP ${response.status}).`;
}

export function SignInPage() {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const field = useRef<HTMLInputElement>(null);
  const tokenId = useId();
  const errorId = useId();

  async function signIn(event: FormEvent) {
    event.preventDefault();
    if (busy) return;
    if (token.trim() === "") {
      setError("Paste the token that drydock up printed.");
      field.current?.focus();
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const response = await fetch("/login", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ token: token.trim() }),
      });
      if (response.ok) {
        location.reload();
        return;
      }
      setError(await refusal(response));
    } catch {
      setError("The Drydock server cannot be reached. Is drydock up still running?");
    }
    setBusy(false);
    field.current?.focus();
  }

  return (
    <main className="signin">
      <form className="signin-card" onSubmit={(e) => void signIn(e)} noValidate>
        <h1>Sign in to Drydock</h1>
        <p className="muted">
          Sign in with the token <code>drydock up</code> printed (the URL it printed signs you in
          directly).
        </p>
        <label htmlFor={tokenId}>Token</label>
        <input
          ref={field}
          id={tokenId}
          name="token"
          type="password"
          autoComplete="current-password"
          autoFocus
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? errorId : undefined}
        />
        {error && (
          <p id={errorId} className="form-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy} aria-busy={busy || undefined}>
          Sign in
        </button>
      </form>
    </main>
  );
}
