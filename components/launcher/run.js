/* eslint-disable @typescript-eslint/no-require-imports */
/* global require */
/**
 * The launcher's released path. Existing stacks' Command resources name `node components/launcher/run.js <id>` as
 * their interpreter, one of their inputs: this path and the ids stay, so that an upgrade of the program changes
 * none of them. The launcher itself is programs/launcher/run.js (ids → files: programs/launcher/programs.json).
 */
"use strict";

require("../../programs/launcher/run.js").main();
