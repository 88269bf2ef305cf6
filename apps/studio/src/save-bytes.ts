/** Hands bytes to the browser as a download named `filename` (works for API responses that need a key). */
export function saveBytes(data: Uint8Array, filename: string, type = "application/octet-stream"): void {
  const url = URL.createObjectURL(new Blob([data as BlobPart], { type }));
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
