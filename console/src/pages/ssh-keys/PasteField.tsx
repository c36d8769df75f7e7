import { type ReactNode, type Ref, useId } from 'react';
import type { FieldProblem } from './keyErrors.ts';

/**
 * A labelled text area for pasting a key line or a signature, with its hint and, when there is
 * one, what is wrong with it: tied to the field (aria-describedby, aria-invalid) so a screen
 * reader says it on reaching the field, which is where focus goes after a refusal.
 */
export function PasteField({
  ref,
  label,
  hint,
  refused,
  problem,
  value,
  onChange,
  rows,
  maxLength,
  placeholder,
  disabled = false,
}: {
  readonly ref?: Ref<HTMLTextAreaElement>;
  readonly label: string;
  readonly hint: ReactNode;
  /** What a refusal by the server is about: "the key", "the signature". */
  readonly refused: string;
  readonly problem: FieldProblem | undefined;
  readonly value: string;
  readonly onChange: (value: string) => void;
  readonly rows: number;
  readonly maxLength: number;
  readonly placeholder?: string;
  readonly disabled?: boolean;
}) {
  const id = useId();
  const hintId = `${id}-hint`;
  const problemId = `${id}-problem`;
  return (
    <div className={problem === undefined ? 'sk-field' : 'sk-field sk-field-invalid'}>
      <label htmlFor={id}>{label}</label>
      <textarea
        ref={ref}
        id={id}
        className="sk-paste"
        rows={rows}
        maxLength={maxLength}
        placeholder={placeholder}
        spellCheck={false}
        autoComplete="off"
        autoCapitalize="none"
        disabled={disabled}
        aria-invalid={problem !== undefined}
        aria-describedby={problem === undefined ? hintId : `${problemId} ${hintId}`}
        value={value}
        onChange={(event) => onChange(event.target.value)}
      />
      {problem !== undefined && (
        <p className="sk-field-problem" id={problemId}>
          {problem.code === null ? (
            problem.message
          ) : (
            <>
              Tessera refused {refused}: {problem.message}{' '}
              <span className="sk-code">{problem.code}</span>
            </>
          )}
        </p>
      )}
      <p className="hint" id={hintId}>
        {hint}
      </p>
    </div>
  );
}
