/** `host:port` of an http(s) URL, as `SandboxNetworkPolicy.allow` lists endpoints (the scheme's port when none is given). */
export function endpointOf(url: URL): string {
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  return `${url.hostname}:${port}`;
}
