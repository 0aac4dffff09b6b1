/** The oldest Node.js regsweep runs on (undici, fetch and the test runner's needs). */
export const REQUIRED_NODE = { major: 22, minor: 19 } as const;

/**
 * Ends the process with a one-line reason on an older Node.js. Entry points call it before they
 * import anything else: on Node 20 the dependencies fail with unreadable stack traces instead.
 */
export function exitUnlessSupportedNode(version: string = process.versions.node): void {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  if (major > REQUIRED_NODE.major || (major === REQUIRED_NODE.major && minor >= REQUIRED_NODE.minor)) return;
  process.stderr.write(
    `regsweep needs Node.js ${REQUIRED_NODE.major}.${REQUIRED_NODE.minor} or newer; this is v${version}.\n` +
      "Install it (e.g. `npm install --prefix ~/.node22 node@22` and put ~/.node22/node_modules/.bin first on PATH).\n",
  );
  process.exit(1);
}
