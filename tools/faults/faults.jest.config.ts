/**
 * `npm run test:faults`: the fault suites, each on a broker node and a PostgreSQL server of its own (never the shared
 * ones), one file after another. Not part of `npm test` (its own file name keeps it out of the projects jest finds).
 */
export default {
  displayName: 'faults',
  preset: '../jest.preset.js',
  rootDir: '..',
  testMatch: ['<rootDir>/faults/**/*.faults.ts'],
  // the node-failure suite starts three nodes and two replicas of every app: `npm run test:cluster`, not CI's run
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/faults/cluster\\.faults\\.ts$'],
  transform: { '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
  testTimeout: 600_000,
  globalSetup: '<rootDir>/faults/global-setup.ts',
};
