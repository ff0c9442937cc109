// Three tiers, chosen by file name: *.spec.ts (unit), *.int.spec.ts (real Postgres/NATS), e2e/ (processes).
const moduleNameMapper = { '^@assay/messaging/nest$': '<rootDir>/libs/messaging/src/nest', '^@assay/(.*)$': '<rootDir>/libs/$1/src' };
// hyparquet and its compressors ship only ES modules: Node loads them with require() (20.19 on),
// Jest's own module loader does not, so their files are compiled to CommonJS like ours.
const ESM_ONLY = ['hyparquet', 'hyparquet-compressors', 'hysnappy'];
const transform = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.json', isolatedModules: true, diagnostics: false }],
  [`/node_modules/(${ESM_ONLY.join('|')})/.+\\.js$`]: ['ts-jest', { tsconfig: { allowJs: true, module: 'commonjs', target: 'ES2022' }, isolatedModules: true, diagnostics: false }],
};
const transformIgnorePatterns = [`/node_modules/(?!(${ESM_ONLY.join('|')})/)`];
// outputs/ holds the bench's private copy of the build (its own package.json): not part of the module map.
const common = { rootDir: __dirname, modulePathIgnorePatterns: ['<rootDir>/outputs/'], moduleNameMapper, transform, transformIgnorePatterns, testEnvironment: 'node', moduleFileExtensions: ['ts', 'js', 'json'] };
module.exports = {
  // Per-project timeouts are not supported by jest; e2e files set their own with jest.setTimeout.
  testTimeout: 60000,
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/{libs,services,scripts}/**/*.spec.ts'], testPathIgnorePatterns: ['\\.int\\.spec\\.ts$', '/node_modules/', '/dist/'] },
    { ...common, displayName: 'int', testMatch: ['<rootDir>/{libs,services}/**/*.int.spec.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.spec.ts'] },
  ],
};
