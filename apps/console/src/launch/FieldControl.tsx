/** The input of one launch-form field, chosen by the field's control: checkbox, select, number, JSON or text. */
import type { FieldDescriptor, RawValue } from "./form.js";

export interface FieldControlProps {
  field: FieldDescriptor;
  id: string;
  value: RawValue;
  error: string | undefined;
  onChange: (value: RawValue, unreadable: boolean) => void;
}

/** What every control carries: its name, and what a screen reader says of its state and help. */
function controlAttributes({
  field,
  id,
  error,
}: Pick<FieldControlProps, "field" | "id" | "error">) {
  const describedBy = [
    error && `${id}-error`,
    field.description && `${id}-description`,
    field.hint && `${id}-hint`,
  ]
    .filter(Boolean)
    .join(" ");
  return {
    id,
    name: field.name,
    "aria-invalid": error ? true : undefined,
    "aria-required": field.required || undefined,
    "aria-describedby": describedBy || undefined,
  };
}

export function FieldControl({ field, id, value, error, onChange }: FieldControlProps) {
  const common = controlAttributes({ field, id, error });
  const text = typeof value === "string" ? value : "";
  switch (field.control) {
    case "checkbox":
      return (
        <input
          {...common}
          type="checkbox"
          checked={value === true}
          onChange={(e) => onChange(e.target.checked, false)}
        />
      );
    case "select":
      return (
        <select {...common} value={text} onChange={(e) => onChange(e.target.value, false)}>
          <option value="">{field.required ? "Choose…" : "(not set)"}</option>
          {field.options.map((o) => (
            <option key={o.value} value={o.value}>
              {o.label}
            </option>
          ))}
        </select>
      );
    case "number":
      return (
        <input
          {...common}
          type="number"
          inputMode={field.integer ? "numeric" : "decimal"}
          step={field.integer ? 1 : "any"}
          min={field.min}
          max={field.max}
          value={text}
          // A number input reports unreadable text ("1e") as empty; remember it, so it is not silently dropped.
          onChange={(e) => onChange(e.target.value, e.target.validity.badInput)}
        />
      );
    case "json":
      return (
        <textarea
          {...common}
          className="json"
          rows={Math.min(8, Math.max(3, text.split("\n").length))}
          spellCheck={false}
          autoCapitalize="off"
          autoCorrect="off"
          value={text}
          onChange={(e) => onChange(e.target.value, false)}
        />
      );
    case "text":
      return (
        <input
          {...common}
          type="text"
          spellCheck={false}
          value={text}
          onChange={(e) => onChange(e.target.value, false)}
        />
      );
  }
}
