import { parseAllDocuments } from "yaml";

/** How an App Service site or slot says what it runs. */
export type FxImages =
  | { readonly kind: "images"; readonly images: readonly string[] }
  | { readonly kind: "sitecontainers" }
  | { readonly kind: "none" };

/**
 * Reads `linuxFxVersion` / `windowsFxVersion`: `DOCKER|ref`, `COMPOSE|<base64 compose YAML>`,
 * `KUBE|<base64 YAML>`, or `SITECONTAINERS` (any case; the images are then listed as site
 * containers). Code stacks such as `NODE|18` are not images.
 */
export function imagesOfFxVersion(fx: string | undefined | null): FxImages {
  if (!fx) return { kind: "none" };
  const bar = fx.indexOf("|");
  const kind = (bar < 0 ? fx : fx.slice(0, bar)).trim().toUpperCase();
  const value = bar < 0 ? "" : fx.slice(bar + 1).trim();
  if (kind === "SITECONTAINERS") return { kind: "sitecontainers" };
  if (kind === "DOCKER") return value ? { kind: "images", images: [value] } : { kind: "none" };
  if (kind === "COMPOSE" || kind === "KUBE") {
    const text = Buffer.from(value, "base64").toString("utf8");
    return { kind: "images", images: imagesInYaml(text) };
  }
  return { kind: "none" };
}

/** Every `image:` value anywhere in a YAML stream (compose services, Kubernetes pod specs). */
export function imagesInYaml(text: string): string[] {
  const found: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(visit);
    else if (node && typeof node === "object") {
      for (const [key, value] of Object.entries(node)) {
        if (key === "image" && typeof value === "string") found.push(value);
        else visit(value);
      }
    }
  };
  for (const doc of parseAllDocuments(text)) {
    if ("errors" in doc && doc.errors.length > 0)
      throw new Error(`unreadable multi-container YAML: ${doc.errors[0]?.message}`);
    visit(doc.toJS());
  }
  return found;
}

/** `DOCKER_CUSTOM_IMAGE_NAME` holds either `DOCKER|ref` or a bare reference. */
export function imageOfCustomImageSetting(value: string | undefined): string | undefined {
  if (!value?.trim()) return undefined;
  const fx = imagesOfFxVersion(value.includes("|") ? value : `DOCKER|${value}`);
  return fx.kind === "images" ? fx.images[0] : undefined;
}
