import type { ReactNode } from 'react';
import type { FieldProblem } from './askErrors.ts';

/**
 * A field's problem in words, with the server's code when it was the server that said it; null
 * when the field has none, so that fields can tell.
 */
export function fieldMessage(problem: FieldProblem | undefined): ReactNode {
  if (problem === undefined) return null;
  return (
    <>
      {problem.message}
      {problem.code !== null && <span className="rq-code"> {problem.code}</span>}
    </>
  );
}
