// `npm run demo` starts here: the Node.js check comes before anything that needs a newer Node loads.
import { exitUnlessSupportedNode } from "../node-version.js";

exitUnlessSupportedNode();
await import("./demo-run.js");
