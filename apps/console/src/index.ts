/** The console is built by issue 5; this package holds only its place in the monorepo. */
export const CONSOLE_PACKAGE_STATUS = "skeleton" as const;
