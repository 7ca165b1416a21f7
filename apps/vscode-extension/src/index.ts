/** The VS Code extension is built by issue 6; this package holds only its place in the monorepo. */
export const EXTENSION_PACKAGE_STATUS = "skeleton" as const;
