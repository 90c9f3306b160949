/**
 * `npm run test:cluster`: the node-failure suite alone, in full (see cluster.faults.ts); the apps are built first.
 */
export default {
  displayName: 'cluster',
  preset: '../jest.preset.js',
  rootDir: '..',
  testMatch: ['<rootDir>/faults/cluster.faults.ts'],
  transform: { '^.+\\.[tj]s$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.spec.json' }] },
  testTimeout: 3_000_000,
  globalSetup: '<rootDir>/faults/global-setup.ts',
};
