import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/**
 * Builds a pure-Python wheel `<name>-1.0-py3-none-any.whl` in `dir` whose
 * module `name` has `VALUE = value`: what pip installs from a `--find-links`
 * folder, with no package index. Returns the wheel's path.
 */
export async function buildPythonWheel(dir: string, name: string, value: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  const wheel = join(dir, `${name}-1.0-py3-none-any.whl`);
  const script = `
import base64, hashlib, sys, zipfile
path, name, value = sys.argv[1], sys.argv[2], sys.argv[3]
info = f"{name}-1.0.dist-info"
files = {
    f"{name}/__init__.py": f"VALUE = {value!r}\\n",
    f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: 1.0\\n",
    f"{info}/WHEEL": "Wheel-Version: 1.0\\nGenerator: agent-runtime-test\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
def digest(text):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
record = "".join(f"{p},{digest(t)},{len(t.encode())}\\n" for p, t in files.items()) + f"{info}/RECORD,,\\n"
with zipfile.ZipFile(path, "w") as archive:
    for p, t in files.items():
        archive.writestr(p, t)
    archive.writestr(f"{info}/RECORD", record)
`;
  await execFileAsync("python3", ["-c", script, wheel, name, value]);
  return wheel;
}
