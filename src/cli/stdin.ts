/** Standard input is read at most once, however many options want it. */
let stdinText: Promise<string> | undefined;

export function readStdinOnce(): Promise<string> {
  stdinText ??= (async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  })();
  return stdinText;
}
