import { QueryCache, QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "./App.js";
import { isUnauthorized } from "./api.js";
import "./styles.css";

const queryClient: QueryClient = new QueryClient({
  // A sign-in that expires mid-way shows the sign-in page: App's own query learns it is unauthorized.
  queryCache: new QueryCache({
    onError: (error, query) => {
      if (isUnauthorized(error) && query.queryKey[0] !== "projects")
        void queryClient.invalidateQueries({ queryKey: ["projects"] });
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
