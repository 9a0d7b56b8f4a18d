import { describe, expect, it } from 'vitest';
import { axisTicks, PLOTS, renderPlot } from '../../src/rl/plots.js';

/** The text of an SVG plot's labels, in order (x ticks, the x title, then y ticks). */
async function labels(
  values: readonly number[],
  options: { fraction?: boolean; steps?: readonly number[] } = {},
): Promise<string[]> {
  const definition = {
    ...PLOTS.find((plot) => (plot.fraction ?? false) === (options.fraction ?? false))!,
    smooth: false,
  };
  const points = values.map((value, index) => ({ step: options.steps?.[index] ?? index + 1, value }));
  const svg = await renderPlot(definition, [{ run: 'run', points }], ['run']);
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) => match[1]!);
}

describe('axisTicks', () => {
  it('puts about five ticks at a round spacing over the values, every label with the same decimals', () => {
    expect(axisTicks([2.31, 2.2987, 2.304, 2.2811])).toEqual({
      values: [2.28, 2.285, 2.29, 2.295, 2.3, 2.305, 2.31],
      domain: [2.28, 2.31],
      format: ',.3f',
    });
    expect(axisTicks([12345, 13110])).toEqual({
      values: [12200, 12400, 12600, 12800, 13000, 13200],
      domain: [12200, 13200],
      format: ',.0f',
    });
    expect(axisTicks([0, 0.5625, 1], true)).toEqual({
      values: [0, 0.2, 0.4, 0.6, 0.8, 1],
      domain: [0, 1],
      format: '.0%',
    });
    expect(axisTicks([0.5])).toMatchObject({ domain: [0.44, 0.56], format: ',.2f' }); // one value: a range around it
  });
});

describe('renderPlot', () => {
  it('labels the axes with clean ticks: the same decimals on every y tick, no SI prefixes, thousands separated', async () => {
    expect(await labels([2.31, 2.2987, 2.304, 2.2811])).toEqual([
      '1',
      '2',
      '3',
      '4',
      'step',
      '2.280',
      '2.285',
      '2.290',
      '2.295',
      '2.300',
      '2.305',
      '2.310',
    ]);
    expect(await labels([0.00012, 0.00031, 0.00009, 0.00022])).toEqual([
      '1',
      '2',
      '3',
      '4',
      'step',
      '0.00005',
      '0.00010',
      '0.00015',
      '0.00020',
      '0.00025',
      '0.00030',
      '0.00035',
    ]);
    expect(await labels([0.25, 0.5, 0.4375], { fraction: true })).toEqual([
      '1',
      '2',
      '3',
      'step',
      '25%',
      '30%',
      '35%',
      '40%',
      '45%',
      '50%',
    ]);
    const steps = [1, 400, 800, 1234];
    expect(await labels([12345, 13020, 12877, 13110], { steps })).toEqual([
      '0',
      '200',
      '400',
      '600',
      '800',
      '1,000',
      '1,200',
      'step',
      '12,200',
      '12,400',
      '12,600',
      '12,800',
      '13,000',
      '13,200',
    ]);
  });
});
