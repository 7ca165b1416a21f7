/** The shell's own queries: who I am (`auth.me`, whose 401 shows the sign-in page) and my projects. */
import { queryOptions } from "@tanstack/react-query";

import { api } from "../api.js";

/** The key App's sign-in check uses; a 401 anywhere invalidates it (main.tsx). */
export const ME_QUERY_KEY = ["auth", "me"] as const;

/** Whether a query is `auth.me` (its key, compared by value: react-query may hold a copy). */
export function isMeQueryKey(key: readonly unknown[]): boolean {
  return key.length === ME_QUERY_KEY.length && ME_QUERY_KEY.every((part, i) => key[i] === part);
}

export const meQuery = queryOptions({
  queryKey: ME_QUERY_KEY,
  queryFn: () => api.auth.me.query(),
});

export const projectListQuery = queryOptions({
  queryKey: ["projects", "list"] as const,
  queryFn: () => api.projects.list.query(),
});
