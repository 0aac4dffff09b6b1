/** At a terminal both ways: the wizard's questions need a keyboard, and their answers a screen. */
export function atTerminal(): boolean {
  return Boolean(process.stdin.isTTY && process.stdout.isTTY);
}
