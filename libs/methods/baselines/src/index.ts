export { baselineTrainMean, baselineMajority, baselineKnn, baselineLinear, KnnSection } from './methods';
export type { KnnSettings } from './methods';
