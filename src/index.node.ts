/**
 * `ckaad` as Node.js resolves it (the `node` export condition): the universal core of
 * ./index.ts with the Node platform installed, so that file paths, checkpoint folders and the
 * feature worker work without importing `ckaad/node` first. Bundlers targeting browsers never
 * see this file.
 *
 * @packageDocumentation
 */

import { installNodePlatform } from './node/platform.js';

installNodePlatform();

export * from './index.js';
