/**
 * Architecture rules, checked by `npm run lint:deps` (depcruise --config .dependency-cruiser.cjs services libs).
 * Services talk only through events, so they share code through libs and never import each other.
 * @type {import('dependency-cruiser').IConfiguration}
 */

// Tests, test helpers and benchmarks may use libs/testing; shipped code may not.
const TEST_FILES = ['\\.spec\\.ts$', '/test-helpers\\.ts$', '/testing/', '/scripts/'];

module.exports = {
  forbidden: [
    {
      name: 'no-cross-service-imports',
      comment: 'A service must not import another service: share code through libs/, talk through events.',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'no-libs-to-services',
      comment: 'Libs sit below services; a lib importing a service would invert the layering.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^services/' },
    },
    {
      name: 'no-circular',
      comment: 'Circular imports make load order matter (undefined at import time) and hide layering.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'testing-only-in-tests',
      comment: 'libs/testing (fixtures, the simulator) is for tests, scripts and e2e, not for service code.',
      severity: 'error',
      from: { path: '^services/[^/]+/src/', pathNot: TEST_FILES },
      to: { path: '^libs/testing/' },
    },
    {
      name: 'no-libs-to-testing',
      comment: 'Same reason for the other libs: their shipped code must not depend on test fixtures.',
      severity: 'error',
      from: { path: '^libs/(?!testing/)', pathNot: TEST_FILES },
      to: { path: '^libs/testing/' },
    },
    {
      name: 'methods-isolated',
      comment: 'A method is one folder: it builds on the method core and the shared libs, never on another method (only the registry lists them all).',
      severity: 'error',
      from: { path: '^libs/methods/(?!core/|registry/)([^/]+)/' },
      to: { path: '^libs/methods/', pathNot: ['^libs/methods/$1/', '^libs/methods/core/'] },
    },
    {
      name: 'methods-below-experiments',
      comment: 'Methods are called by the experiment libs (planning); a method importing them would invert the layering.',
      severity: 'error',
      from: { path: '^libs/methods/' },
      to: { path: '^libs/(experiments|report|viewer|comparison|event-store|messaging)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve (a mistyped @assay/* alias, a missing package) would escape every rule above.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules|coverage)/' },
    // Type-only imports count too: `import type` from another service still couples the two.
    tsPreCompilationDeps: true,
    // Resolves the @assay/* path aliases.
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.d.ts', '.js', '.cjs', '.mjs', '.json'],
      mainFields: ['main', 'types', 'typings'],
    },
    reporterOptions: {
      text: { highlightFocused: true },
    },
  },
};
