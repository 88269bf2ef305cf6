import { languageForPath } from "../markdown.js";
import { inputText, type ToolInput } from "../tool-input.js";
import { CodeView } from "./CodeView.js";

/** A tool call's input: a command, a written file, an edit as a diff, or JSON. */
export function ToolInputView({ toolName, input }: { readonly toolName: string; readonly input: ToolInput }) {
  const command = inputText(input, "command");
  if (command !== undefined) return <CodeView code={command} language="bash" />;
  const path = inputText(input, "file_path") ?? inputText(input, "filePath");
  const content = inputText(input, "content");
  if (path && content !== undefined) {
    return (
      <>
        <div className="tool-path">{path}</div>
        <CodeView code={content} language={languageForPath(path)} />
      </>
    );
  }
  const before = inputText(input, "old_string");
  const after = inputText(input, "new_string");
  if (path && before !== undefined && after !== undefined) {
    const diff = [...before.split("\n").map((l) => `- ${l}`), ...after.split("\n").map((l) => `+ ${l}`)];
    return (
      <>
        <div className="tool-path">{path}</div>
        <CodeView code={diff.join("\n")} language="diff" />
      </>
    );
  }
  if (Object.keys(input).length === 0) return <p className="muted small">{toolName} (no input)</p>;
  return <CodeView code={JSON.stringify(input, null, 2)} language="json" />;
}
