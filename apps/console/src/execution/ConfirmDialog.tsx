/** A modal confirmation: a real <dialog>, focus moved into it, Escape or Cancel backs out. */
import type { ReactNode } from "react";
import { useEffect, useId, useRef } from "react";

export function ConfirmDialog({
  title,
  children,
  confirmLabel,
  busy = false,
  blocked = false,
  danger = false,
  onConfirm,
  onCancel,
}: {
  title: string;
  children: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  /** The choices made so far cannot be confirmed (the body says why). */
  blocked?: boolean;
  danger?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="confirm-dialog"
      aria-labelledby={titleId}
      onCancel={(event) => {
        event.preventDefault();
        onCancel();
      }}
    >
      <h2 id={titleId}>{title}</h2>
      <div className="confirm-body">{children}</div>
      <div className="confirm-actions">
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
        <button
          type="button"
          className={danger ? "danger" : "primary"}
          onClick={onConfirm}
          disabled={busy || blocked}
        >
          {confirmLabel}
        </button>
      </div>
    </dialog>
  );
}
