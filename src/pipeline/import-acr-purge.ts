import { shellQuote, splitShellWords } from "../config/shell-words.js";
import { UsageError } from "../errors.js";
import { type ImportedConfig, type ImportNote, imported, registryUrlOf } from "./imported-config.js";
import { purgePolicy } from "./plan.js";

/** What an `acr purge` command line (optionally inside `az acr run --cmd "…"`) said. */
interface PurgeLine {
  filters: string[];
  ago?: string;
  keep?: number;
  untagged: boolean;
  untaggedOnly: boolean;
  dryRun: boolean;
  includeLocked: boolean;
  concurrency?: number;
  registry?: string;
  /** Flags read but with no equivalent here, as written. */
  dropped: string[];
  /** The purge line re-quoted, credentials replaced, fit to print. */
  shown: string;
}

type FlagKind = "value" | "bool";

/** acr purge's flags (acr-cli cmd/acr/purge.go and the root's registry and credential flags). */
const PURGE_FLAGS: Record<string, { kind: FlagKind; name: string }> = {
  "--filter": { kind: "value", name: "filter" },
  "-f": { kind: "value", name: "filter" },
  "--ago": { kind: "value", name: "ago" },
  "--keep": { kind: "value", name: "keep" },
  "--untagged": { kind: "bool", name: "untagged" },
  "--untagged-only": { kind: "bool", name: "untagged-only" },
  "--dry-run": { kind: "bool", name: "dry-run" },
  "--include-locked": { kind: "bool", name: "include-locked" },
  "--concurrency": { kind: "value", name: "concurrency" },
  "--filter-timeout-seconds": { kind: "value", name: "filter-timeout-seconds" },
  "--registry": { kind: "value", name: "registry" },
  "-r": { kind: "value", name: "registry" },
  "--username": { kind: "value", name: "username" },
  "-u": { kind: "value", name: "username" },
  "--password": { kind: "value", name: "password" },
  "-p": { kind: "value", name: "password" },
  "--config": { kind: "value", name: "config" },
  "-c": { kind: "value", name: "config" },
};

/** `az acr run`'s flags a purge task is written with; the source (`/dev/null`) is positional. */
const RUN_FLAGS: Record<string, { kind: FlagKind; name: string }> = {
  "--cmd": { kind: "value", name: "cmd" },
  "--registry": { kind: "value", name: "registry" },
  "-r": { kind: "value", name: "registry" },
  "--timeout": { kind: "value", name: "timeout" },
  "--resource-group": { kind: "value", name: "resource-group" },
  "-g": { kind: "value", name: "resource-group" },
  "--subscription": { kind: "value", name: "subscription" },
  "--no-logs": { kind: "bool", name: "no-logs" },
  "--no-wait": { kind: "bool", name: "no-wait" },
  "--agent-pool": { kind: "value", name: "agent-pool" },
  "--platform": { kind: "value", name: "platform" },
};

interface Parsed {
  values: Map<string, string[]>;
  bools: Map<string, boolean>;
  positional: string[];
}

/** Reads `--flag value`, `--flag=value` and bare booleans (`--untagged`, `--untagged=false`, as cobra). */
function parseFlags(words: readonly string[], known: typeof PURGE_FLAGS, what: string): Parsed {
  const parsed: Parsed = { values: new Map(), bools: new Map(), positional: [] };
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    if (!word.startsWith("-") || word === "-") {
      parsed.positional.push(word);
      continue;
    }
    const eq = word.indexOf("=");
    const flag = eq > 0 ? word.slice(0, eq) : word;
    const spec = known[flag];
    if (!spec) {
      throw new UsageError(
        `${what}: ${flag} is not a flag regsweep can import (it reads ${[...new Set(Object.values(known).map((s) => `--${s.name}`))].join(", ")})`,
      );
    }
    if (spec.kind === "bool") {
      const value = eq > 0 ? word.slice(eq + 1) : "true";
      if (value !== "true" && value !== "false")
        throw new UsageError(`${what}: ${flag} takes true or false, not ${value}`);
      parsed.bools.set(spec.name, value === "true");
      continue;
    }
    const value = eq > 0 ? word.slice(eq + 1) : words[++i];
    if (value === undefined) throw new UsageError(`${what}: ${flag} needs a value`);
    parsed.values.set(spec.name, [...(parsed.values.get(spec.name) ?? []), value]);
  }
  return parsed;
}

const last = (p: Parsed, name: string) => p.values.get(name)?.at(-1);

function wholeNumber(text: string | undefined, flag: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min) {
    throw new UsageError(
      `acr purge ${flag} ${JSON.stringify(text)}: a whole number${min > 0 ? " above 0" : ""}`,
    );
  }
  return n;
}

/** The purge line's words, unwrapping `az acr run --cmd "acr purge …" [--registry R] /dev/null`. */
function purgeWords(words: readonly string[], notes: ImportNote[]): { words: string[]; registry?: string } {
  if (words[0] === "az" && words[1] === "acr" && words[2] === "run") {
    const run = parseFlags(words.slice(3), RUN_FLAGS, "az acr run");
    const cmd = last(run, "cmd");
    if (cmd === undefined) throw new UsageError('az acr run: no --cmd "acr purge …" to import');
    const timeout = last(run, "timeout");
    if (timeout !== undefined) {
      notes.push({
        kind: "no-equivalent",
        text: `az acr run --timeout ${timeout}: regsweep runs where you start it, with no task time-out (each request has --timeout; every listing is bounded)`,
      });
    }
    for (const name of ["resource-group", "subscription", "agent-pool", "platform"]) {
      const v = last(run, name);
      if (v !== undefined)
        notes.push({
          kind: "no-equivalent",
          text: `az acr run --${name} ${v}: only says where the ACR task ran`,
        });
    }
    const registry = last(run, "registry");
    return { words: splitShellWords(cmd), ...(registry ? { registry } : {}) };
  }
  return { words: [...words] };
}

/** The words as one line again, with every credential value replaced. */
function shownLine(words: readonly string[]): string {
  const secret = new Set(["--password", "-p", "--username", "-u"]);
  return words
    .map((w, i) => {
      const eq = w.indexOf("=");
      if (eq > 0 && secret.has(w.slice(0, eq))) return `${w.slice(0, eq)}=***`;
      return secret.has(words[i - 1] ?? "") ? "***" : shellQuote(w);
    })
    .join(" ");
}

function readLine(commandLine: string, notes: ImportNote[]): PurgeLine {
  const outer = purgeWords(splitShellWords(commandLine), notes);
  const words = outer.words;
  const start = words[0] === "acr" && words[1] === "purge" ? 2 : words[0] === "purge" ? 1 : -1;
  if (start < 0) {
    throw new UsageError(
      `not an acr purge command line: ${JSON.stringify(words.slice(0, 2).join(" "))} (expected "acr purge --filter 'repo:.*' …", optionally inside az acr run --cmd)`,
    );
  }
  const p = parseFlags(words.slice(start), PURGE_FLAGS, "acr purge");
  if (p.positional.length > 0) {
    throw new UsageError(
      `acr purge takes no arguments besides flags: ${JSON.stringify(p.positional.join(" "))}`,
    );
  }
  const dropped: string[] = [];
  for (const name of ["filter-timeout-seconds", "username", "password", "config"]) {
    if (p.values.has(name)) dropped.push(name);
  }
  const concurrency = wholeNumber(last(p, "concurrency"), "--concurrency", 1);
  const keep = wholeNumber(last(p, "keep"), "--keep", 0);
  const ago = last(p, "ago");
  const registry = last(p, "registry") ?? outer.registry;
  return {
    shown: shownLine(words),
    filters: p.values.get("filter") ?? [],
    ...(ago !== undefined ? { ago } : {}),
    ...(keep !== undefined ? { keep } : {}),
    untagged: p.bools.get("untagged") ?? false,
    untaggedOnly: p.bools.get("untagged-only") ?? false,
    dryRun: p.bools.get("dry-run") ?? false,
    includeLocked: p.bools.get("include-locked") ?? false,
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(registry !== undefined ? { registry } : {}),
    dropped,
  };
}

/**
 * The regsweep configuration equivalent to an `acr purge` command line, with a note for every
 * flag: mapped, mapped with a different reading, or without equivalent. Pure; a flag regsweep
 * does not know, a filter or duration that does not parse, or a contradiction is bad usage.
 */
export function importAcrPurge(commandLine: string): ImportedConfig {
  const notes: ImportNote[] = [];
  const line = readLine(commandLine, notes);
  if (line.filters.length === 0 && !line.untaggedOnly) {
    throw new UsageError(
      "acr purge needs --filter 'REPO_REGEX:TAG_REGEX' (or --untagged-only), as acr purge itself does",
    );
  }
  // The same checks `regsweep plan` makes, so the file written is one it accepts.
  purgePolicy({
    filters: line.filters,
    ...(line.ago !== undefined ? { ago: line.ago } : {}),
    ...(line.keep !== undefined ? { keep: line.keep } : {}),
    untagged: line.untagged,
    untaggedOnly: line.untaggedOnly,
  });

  const registry: Record<string, unknown> = {};
  if (line.registry?.includes("{{")) {
    notes.push({
      kind: "no-equivalent",
      text: `--registry ${line.registry}: an ACR task template; set registry.url or pass regsweep --registry`,
    });
  } else if (line.registry !== undefined) {
    registry.url = registryUrlOf(line.registry);
    notes.push({ kind: "mapped", text: `--registry ${line.registry} → registry.url ${registry.url}` });
  } else {
    notes.push({
      kind: "no-equivalent",
      text: "no --registry in the command line (an ACR task names it): set registry.url or pass regsweep --registry",
    });
  }
  if (line.concurrency !== undefined) {
    registry.concurrency = line.concurrency;
    notes.push({
      kind: "mapped",
      text: `--concurrency ${line.concurrency} → registry.concurrency (at most 32 against ACR, as acr purge)`,
    });
  }

  const policy: Record<string, unknown> = {};
  if (line.filters.length > 0) {
    policy.filters = line.filters;
    const alternation = line.filters.some((f) => f.split(":")[0]?.includes("|"));
    notes.push({
      kind: alternation ? "differs" : "mapped",
      text: `--filter ${line.filters.map((f) => `'${f}'`).join(" ")} → policy.filters${alternation ? ": the repository regex is anchored whole (^(?:a|b)$), acr purge writes ^a|b$, which also selects repositories that merely start with a or end with b" : ""}`,
    });
  }
  if (line.ago !== undefined) {
    policy.ago = line.ago;
    notes.push({ kind: "mapped", text: `--ago ${line.ago} → policy.ago ${line.ago}` });
  } else if (!line.untaggedOnly) {
    notes.push({ kind: "differs", text: "no --ago: acr purge requires one; regsweep takes any age" });
  }
  policy.ageFrom = "updated";
  notes.push({
    kind: "mapped",
    text: "acr purge reads the last update time → policy.ageFrom: updated (regsweep's default is the push time)",
  });
  if (line.keep !== undefined) {
    policy.keep = line.keep;
    notes.push({
      kind: "differs",
      text: `--keep ${line.keep} → policy.keep ${line.keep}: counts images (distinct digests), not tags — one image with three tags takes one slot here, three in acr purge${line.untagged || line.untaggedOnly ? "; the newest untagged stay too, as in acr purge" : ""}`,
    });
  }
  if (line.untagged) {
    policy.untagged = true;
    notes.push({ kind: "mapped", text: "--untagged → policy.untagged: true" });
  }
  if (line.untaggedOnly) {
    policy.untaggedOnly = true;
    notes.push({ kind: "mapped", text: "--untagged-only → policy.untaggedOnly: true" });
  }
  notes.push(
    line.dryRun
      ? {
          kind: "differs",
          text: "--dry-run: regsweep's default — plan --config FILE (and purge without --apply) only plan; run --config FILE deletes",
        }
      : {
          kind: "differs",
          text: "this command line deleted: regsweep deletes only with run --config FILE (or purge --apply); plan --config FILE first shows what would go",
        },
  );
  if (line.includeLocked) {
    notes.push({
      kind: "no-equivalent",
      text: "--include-locked: regsweep never deletes locked manifests or tags (kept, reason locked); unlock them in ACR first",
    });
  }
  for (const name of line.dropped) {
    notes.push({
      kind: "no-equivalent",
      text:
        name === "filter-timeout-seconds"
          ? "--filter-timeout-seconds: not needed (RE2 matching runs in linear time)"
          : name === "config"
            ? "--config: regsweep finds docker logins itself (REGISTRY_AUTH_FILE, DOCKER_CONFIG, ~/.docker/config.json)"
            : `--${name}: never written to a file; use --username with --password-stdin, or the Entra identity`,
    });
  }
  notes.push({
    kind: "differs",
    text: "manifests, not tags: a manifest goes only when every tag on it matches the filter (acr purge untags each matching tag)",
  });
  notes.push({
    kind: "differs",
    text: "in-use protection added, but this configuration has no usage source: add usage: entries (aks, appservice, containerapps, kubernetes, file) — run and purge --apply refuse without one unless --no-usage-sources",
  });
  const config: Record<string, unknown> = {
    ...(Object.keys(registry).length ? { registry } : {}),
    policy,
  };
  return imported(config, notes, line.shown);
}
