/**
 * The suite runs in Node on the sources: give ckaad's core the Node platform, as loading
 * ckaad/node (or ckaad's Node build) does for users. Tests of the portable behaviour put the
 * portable platform back for their duration (see test/platform.test.ts).
 *
 * tfjs's cpu backend greets every process with a banner recommending tfjs-node ("Hi, looks
 * like you are running TensorFlow.js in Node.js…"): about 30 times per `npm test`. That one
 * message is dropped here; every other warning still reaches the console (the command line
 * silences tfjs's logger altogether with `PROD`, which would hide real warnings in tests).
 */

import { installNodePlatform } from '../src/node/platform.js';

/** The start of tfjs-backend-cpu's first-use banner. */
export const TFJS_NODE_BANNER = 'Hi, looks like you are running TensorFlow.js in Node.js';

/** `warn` without tfjs's Node banner. */
export function withoutTfjsBanner(warn: (...args: unknown[]) => void): (...args: unknown[]) => void {
  return (...args) => {
    if (typeof args[0] === 'string' && args[0].includes(TFJS_NODE_BANNER)) return;
    warn(...args);
  };
}

installNodePlatform();
console.warn = withoutTfjsBanner(console.warn.bind(console));
