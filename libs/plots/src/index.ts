export { renderSvg, type ChartSpec } from './render';
export { distributionByGroupChart, pairedDeltaChart, type DistributionPoint, type DeltaInterval } from './charts';
