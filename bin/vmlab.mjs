#!/usr/bin/env node
// The CLI's launcher is bin/vmlab.cjs (package.json's bin): CommonJS, which Node starts without
// its ES module loader (issue #20, goal 1). This file, the name the docs and older scripts use,
// only loads it: `node bin/vmlab.mjs ARGS` runs as `node bin/vmlab.cjs ARGS`, the ES module
// loader's few ms of start-up added.
import { createRequire } from "node:module";

createRequire(import.meta.url)("./vmlab.cjs");
