/**
 * Conv2DBackpropInput for the 'cpu' backend (also the forward pass of
 * tf.conv2dTranspose): one packed JavaScript gather-GEMM per stride phase,
 *
 *   dx[phase pixels] [P, Cin] = [dy at each tap's source] [P, taps·Cout] · w[taps]ᵀ [taps·Cout, Cin],
 *
 * so a strided transposed convolution spends no multiply on inserted zeros.
 */

import { Conv2DBackpropInput } from '@tensorflow/tfjs-core';
import type { KernelConfig, TensorInfo } from '@tensorflow/tfjs-core';

import type { ConvGeometry } from '../conv-geometry.js';
import { inputPhases } from '../gather-plans.js';
import { inputGradientKernel } from '../gradient-kernel.js';
import { packFilterPanels, panelCount, PANEL } from '../packed-gemm.js';
import type { TensorMemory } from '../tensor-memory.js';
import { gatherGemm } from './gather-gemm.js';

/** NHWC core: dx [N, H, W, Cin] from dy [N, Ho, Wo, Cout] and w [KH, KW, Cin, Cout]. */
export function inputGradientCpu(memory: TensorMemory, g: ConvGeometry, dy: TensorInfo, filter: TensorInfo): TensorInfo {
  const { inChannels: cin, outChannels: cout } = g;
  const out = memory.alloc([g.batch, g.inHeight, g.inWidth, cin], true);
  const dyv = memory.view(dy);
  const wv = memory.view(filter);
  const dx = memory.view(out);

  for (const phase of inputPhases(g)) {
    const nTaps = phase.taps.length;
    if (nTaps === 0) continue; // no tap reaches these pixels: their gradient is zero
    const b = new Float32Array(panelCount(cin) * nTaps * cout * PANEL); // w panels [Cin/4][taps·Cout][4]
    packFilterPanels(wv, phase.taps, cin, cout, 'out', b);
    gatherGemm(dyv, cout, phase.sources, nTaps, phase.rows.length, phase.rows, b, cin, dx);
  }
  return out;
}

/** Conv2DBackpropInput for 'cpu' (NHWC natively, NCHW through transposes). */
export const conv2DBackpropInputCpuConfig: KernelConfig = {
  kernelName: Conv2DBackpropInput,
  backendName: 'cpu',
  kernelFunc: inputGradientKernel('cpu', inputGradientCpu),
};
