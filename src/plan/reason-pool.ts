import type { Reason } from "../policy/reasons.js";

/**
 * One object per distinct reason, for the reasons a plan says of many manifests ("tag v3 matches
 * .*:.*" in every repository that has a v3, "every index listing it is deleted"): at a million
 * manifests the copies cost a hundred megabytes. A reason that names a time or a digest is nearly
 * always one of a kind, and one from a usage source names who uses it: those are not remembered
 * (remembering them would cost more than it saves).
 */
export class ReasonPool {
  private readonly byRule = new Map<string, Map<string, Reason>>();
  private readonly rules = new Map<string, string>();

  /** The shared reason for this rule and detail, or a new one when such a detail is one of a kind. */
  of(rule: string, detail: string): Reason {
    const sharedRule = this.rules.get(rule) ?? this.remember(rule);
    if (/\d{4}-\d\d-\d\dT|sha256:/.test(detail)) return { rule: sharedRule, detail } as Reason;
    let byDetail = this.byRule.get(sharedRule);
    if (!byDetail) {
      byDetail = new Map();
      this.byRule.set(sharedRule, byDetail);
    }
    const known = byDetail.get(detail);
    if (known) return known;
    const made = { rule: sharedRule, detail } as Reason;
    byDetail.set(detail, made);
    return made;
  }

  /** Shares each reason of the list in place that has no source. */
  shareAll(reasons: Reason[]): Reason[] {
    for (let i = 0; i < reasons.length; i++) {
      const r = reasons[i] as Reason;
      if (r.source === undefined) reasons[i] = this.of(r.rule, r.detail);
    }
    return reasons;
  }

  private remember(rule: string): string {
    this.rules.set(rule, rule);
    return rule;
  }
}
