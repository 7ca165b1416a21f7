/** One problem with the inputs given to a task or workflow, naming the input it is about. */
export interface InputIssue {
  input: string;
  message: string;
}

/**
 * Inputs that do not match a task's or workflow's schemas. The message names every offending input, e.g.
 * `unknown input "nmae" for workflow "wf" (it takes: name)`.
 */
export class InvalidInputsError extends Error {
  override name = "InvalidInputsError";
  /** What the inputs were for: `workflow "wf"` or `task "say_hello"`. */
  readonly target: string;
  readonly issues: InputIssue[];

  constructor(target: string, issues: InputIssue[]) {
    const messages = issues.map((issue) => issue.message);
    // Unknown/missing messages already name the target; type mismatches need it said once up front.
    const namesTarget = messages.every((message) => message.includes(target));
    super(`${namesTarget ? "" : `invalid inputs for ${target}: `}${messages.join("; ")}`);
    this.target = target;
    this.issues = issues;
  }
}

/** A task in a locally run workflow failed after its retries; `cause` is the error the task threw. */
export class TaskFailedError extends Error {
  override name = "TaskFailedError";
  readonly nodeId: string;
  readonly task: string;

  constructor(nodeId: string, task: string, cause: unknown) {
    super(
      `task ${task} (${nodeId}) failed: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
    this.nodeId = nodeId;
    this.task = task;
  }
}
