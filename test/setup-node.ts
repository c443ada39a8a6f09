/**
 * The suite runs in Node on the sources: give ckaad's core the Node platform, as loading
 * ckaad/node (or ckaad's Node build) does for users. Tests of the portable behaviour put the
 * portable platform back for their duration (see test/platform.test.ts).
 */

import { installNodePlatform } from '../src/node/platform.js';

installNodePlatform();
