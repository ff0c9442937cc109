export * from './request';
export * from './plan';
export * from './smoke';
export * from './inference';
export * from './score';
export * from './re-evaluate';
export * from './report';
export * from './experiment';
