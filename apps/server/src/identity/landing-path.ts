/**
 * Where to land after signing in: a path of this origin, or `/`. Anything that could leave the origin
 * (`//host`, `/\host`, a scheme) is ignored, so the sign-in cannot be used to send someone elsewhere.
 */
export function landingPath(next: unknown): string {
  if (typeof next !== "string" || !next.startsWith("/") || /^\/[/\\]/.test(next)) return "/";
  const base = "http://drydock.invalid";
  const url = new URL(next, base);
  return url.origin === base ? `${url.pathname}${url.search}${url.hash}` : "/";
}
