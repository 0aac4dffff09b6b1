/**
 * Turns a container runtime's `imageID` into an image reference, or undefined when it names no
 * registry manifest. Runtimes differ:
 * - docker: `docker-pullable://nginx@sha256:…` (a manifest), `docker://sha256:…` (a local config id);
 * - containerd: `docker.io/library/nginx@sha256:…` (often the index digest);
 * - a bare `sha256:…` is an image config digest: never a manifest, never matched as one.
 */
export function referenceOfImageId(imageId: string | undefined): string | undefined {
  if (!imageId) return undefined;
  let id = imageId.trim();
  if (id.startsWith("docker-pullable://")) id = id.slice("docker-pullable://".length);
  else if (id.includes("://")) return undefined; // docker://sha256:<config>, or a scheme we do not know
  if (/^sha256:[a-f0-9]{64}$/.test(id)) return undefined;
  return id.includes("@sha256:") ? id : undefined;
}
