/** metav1.Status failure bodies, as the API server writes them. */

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Expired",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure";
  message: string;
  reason?: string;
  details?: Record<string, unknown>;
  code: number;
}

export function failure(code: number, message: string, details?: Record<string, unknown>): StatusBody {
  const reason = REASONS[code];
  return {
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    ...(reason ? { reason } : {}),
    ...(details ? { details } : {}),
    code,
  };
}

export const UNAUTHORIZED = failure(401, "Unauthorized");

/** What the server says for a path nothing is registered at. */
export const PATH_NOT_FOUND = failure(404, "the server could not find the requested resource", {});

/** The identity the canned 403 messages name. */
export const FORBIDDEN_USER = "system:serviceaccount:regsweep:scanner";

/** The Status a list of `resource` in `group` would fail with, phrased as a real server phrases it. */
export function listFailure(code: number, group: string, resource: string, namespace?: string): StatusBody {
  const qualified = group === "" ? resource : `${resource}.${group}`;
  const details = { ...(group === "" ? {} : { group }), kind: resource };
  switch (code) {
    case 403: {
      const scope = namespace === undefined ? "at the cluster scope" : `in the namespace "${namespace}"`;
      const message = `${qualified} is forbidden: User "${FORBIDDEN_USER}" cannot list resource "${resource}" in API group "${group}" ${scope}`;
      return failure(403, message, details);
    }
    case 401:
      return UNAUTHORIZED;
    case 404:
      return PATH_NOT_FOUND;
    case 410:
      return failure(
        410,
        "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
      );
    case 429:
      return failure(429, "Too many requests, please try again later.", { retryAfterSeconds: 1 });
    case 500:
      return failure(500, "Internal error occurred: etcdserver: request timed out", {
        causes: [{ message: "etcdserver: request timed out" }],
      });
    case 503:
      return failure(503, "the server is currently unable to handle the request", details);
    case 504:
      return failure(504, "Timeout: request did not complete within the allotted timeout", details);
    default:
      return failure(code, `the server responded with status ${code} listing ${qualified}`, details);
  }
}
