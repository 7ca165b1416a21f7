import { Refusal } from "./authority.js";

/**
 * Where a ticket's redemption may send the browser: `next`, when it is a plain path on the session's own
 * origin (written back as the URL parser understood it, so the Location header holds only what it checked),
 * or `/` when there is none. Browsers drop tabs and line breaks from a Location (`/\t/evil` is `//evil`,
 * another host) and a line break would end the header, so `next` with a control character or a backslash is
 * refused outright, as is anything that leaves the origin.
 */
export function redirectTarget(next: string | null, sessionOrigin: string): string | Refusal {
  if (next === null || next === "") return "/";
  const refuse = (why: string) =>
    new Refusal(
      400,
      `this link's next=${JSON.stringify(next)} is refused: ${why}; open the IDE from the Drydock console`,
    );
  if ([...next].some((c) => c < " " || c === "\u007f" || c === "\\"))
    return refuse("it holds a control character or a backslash");
  if (!next.startsWith("/") || next.startsWith("//"))
    return refuse("it must be a path on the IDE's own origin, starting with a single /");
  let url: URL;
  try {
    url = new URL(next, sessionOrigin);
  } catch {
    return refuse("it is not a URL path");
  }
  if (url.origin !== sessionOrigin) return refuse("it leads to another origin");
  return `${url.pathname}${url.search}${url.hash}`;
}
