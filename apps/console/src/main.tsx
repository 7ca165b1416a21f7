import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App.js";
import { isUnauthorized } from "./api.js";
import { isMeQueryKey, ME_QUERY_KEY } from "./identity/queries.js";
import "./styles.css";

/** Asks `auth.me` again; its 401 swaps the console for the sign-in page. */
function signInAgain() {
  void queryClient.invalidateQueries({ queryKey: ME_QUERY_KEY, exact: true });
}

const queryClient: QueryClient = new QueryClient({
  // A sign-in that ends mid-way (signed out elsewhere, expired) shows the sign-in page: App's `auth.me` learns it.
  queryCache: new QueryCache({
    onError: (error, query) => {
      if (isUnauthorized(error) && !isMeQueryKey(query.queryKey)) signInAgain();
    },
  }),
  mutationCache: new MutationCache({
    onError: (error) => {
      if (isUnauthorized(error)) signInAgain();
    },
  }),
  defaultOptions: {
    // Live data arrives over subscriptions; nothing is refetched on a timer or on focus.
    queries: {
      retry: (count, error) => !isUnauthorized(error) && count < 2,
      refetchOnWindowFocus: false,
      staleTime: 30_000,
    },
  },
});

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
);
