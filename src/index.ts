/**
 * ckaad — weakly-supervised visual anomaly detection with Coarse-Knowledge-Aware
 * Adversarial learning (CKAAD, AAAI 2025) on TensorFlow.js.
 *
 * @packageDocumentation
 */

export * from './errors.js';

// --- backend ---

// --- backbone ---

// --- metrics ---
export * from './metrics/index.js';

// --- nn / autoencoder / discriminator ---

// --- losses ---

// --- scoring ---

// --- training ---

// --- data ---

