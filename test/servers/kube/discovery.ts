/**
 * The resources the fake API server serves and the legacy (non-aggregated) discovery documents
 * describing them: /api, /apis, /apis/{group}, /api/v1 and /apis/{group}/{version}.
 */

export type FixtureKey =
  | "pods"
  | "deployments"
  | "replicaSets"
  | "statefulSets"
  | "daemonSets"
  | "jobs"
  | "cronJobs"
  | "replicationControllers";

export interface ResourceInfo {
  /** "" for the core group. */
  group: string;
  version: string;
  /** Plural, as in the URL. */
  name: string;
  singularName: string;
  kind: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs: string[];
  /** Where the objects come from; namespaces are derived from every other resource. */
  fixtureKey: FixtureKey | "namespaces";
}

const RW = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];

export const RESOURCES: readonly ResourceInfo[] = [
  {
    group: "",
    version: "v1",
    name: "namespaces",
    singularName: "namespace",
    kind: "Namespace",
    namespaced: false,
    shortNames: ["ns"],
    verbs: ["create", "delete", "get", "list", "patch", "update", "watch"],
    fixtureKey: "namespaces",
  },
  {
    group: "",
    version: "v1",
    name: "pods",
    singularName: "pod",
    kind: "Pod",
    namespaced: true,
    shortNames: ["po"],
    categories: ["all"],
    verbs: RW,
    fixtureKey: "pods",
  },
  {
    group: "",
    version: "v1",
    name: "replicationcontrollers",
    singularName: "replicationcontroller",
    kind: "ReplicationController",
    namespaced: true,
    shortNames: ["rc"],
    categories: ["all"],
    verbs: RW,
    fixtureKey: "replicationControllers",
  },
  {
    group: "apps",
    version: "v1",
    name: "daemonsets",
    singularName: "daemonset",
    kind: "DaemonSet",
    namespaced: true,
    shortNames: ["ds"],
    categories: ["all"],
    verbs: RW,
    fixtureKey: "daemonSets",
  },
  {
    group: "apps",
    version: "v1",
    name: "deployments",
    singularName: "deployment",
    kind: "Deployment",
    namespaced: true,
    shortNames: ["deploy"],
    categories: ["all"],
    verbs: RW,
    fixtureKey: "deployments",
  },
  {
    group: "apps",
    version: "v1",
    name: "replicasets",
    singularName: "replicaset",
    kind: "ReplicaSet",
    namespaced: true,
    shortNames: ["rs"],
    categories: ["all"],
    verbs: RW,
    fixtureKey: "replicaSets",
  },
  {
    group: "apps",
    version: "v1",
    name: "statefulsets",
    singularName: "statefulset",
    kind: "StatefulSet",
    namespaced: true,
    shortNames: ["sts"],
    categories: ["all"],
    verbs: RW,
    fixtureKey: "statefulSets",
  },
  {
    group: "batch",
    version: "v1",
    name: "cronjobs",
    singularName: "cronjob",
    kind: "CronJob",
    namespaced: true,
    shortNames: ["cj"],
    categories: ["all"],
    verbs: RW,
    fixtureKey: "cronJobs",
  },
  {
    group: "batch",
    version: "v1",
    name: "jobs",
    singularName: "job",
    kind: "Job",
    namespaced: true,
    categories: ["all"],
    verbs: RW,
    fixtureKey: "jobs",
  },
];

export const GROUPS = ["apps", "batch"] as const;

export function groupVersion(group: string, version: string): string {
  return group === "" ? version : `${group}/${version}`;
}

export function findResource(group: string, version: string, name: string): ResourceInfo | undefined {
  return RESOURCES.find((r) => r.group === group && r.version === version && r.name === name);
}

/** GET /version: the fields `kubectl version` and client-go's discovery read. */
export function versionInfo(): object {
  return {
    major: "1",
    minor: "32",
    gitVersion: "v1.32.4",
    gitCommit: "59526cd4867447956156ae3a602fcbac10a2c335",
    gitTreeState: "clean",
    buildDate: "2025-04-22T16:02:27Z",
    goVersion: "go1.23.6",
    compiler: "gc",
    platform: "linux/amd64",
  };
}

/** GET /api */
export function apiVersions(hostPort: string): object {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: hostPort }],
  };
}

function apiGroup(name: string): object {
  const gv = { groupVersion: `${name}/v1`, version: "v1" };
  return { name, versions: [gv], preferredVersion: gv };
}

/** GET /apis */
export function apiGroupList(): object {
  return { kind: "APIGroupList", apiVersion: "v1", groups: GROUPS.map(apiGroup) };
}

/** GET /apis/{group}, or undefined for an unknown group. */
export function apiGroupDoc(group: string): object | undefined {
  return (GROUPS as readonly string[]).includes(group)
    ? { kind: "APIGroup", apiVersion: "v1", ...apiGroup(group) }
    : undefined;
}

/** GET /api/v1 or /apis/{group}/{version}, or undefined when nothing is served there. */
export function apiResourceList(group: string, version: string): object | undefined {
  const resources = RESOURCES.filter((r) => r.group === group && r.version === version);
  if (resources.length === 0) return undefined;
  return {
    kind: "APIResourceList",
    // The legacy /api/v1 document has no apiVersion; group documents carry "v1".
    ...(group === "" ? {} : { apiVersion: "v1" }),
    groupVersion: groupVersion(group, version),
    resources: resources.map((r) => ({
      name: r.name,
      singularName: r.singularName,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
      ...(r.shortNames ? { shortNames: r.shortNames } : {}),
      ...(r.categories ? { categories: r.categories } : {}),
    })),
  };
}
