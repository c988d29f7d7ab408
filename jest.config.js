const { pathsToModuleNameMapper } = require('ts-jest');
// test/tsconfig.json maps the packages' names to their sources: tests run the code in the checkout, not a build.
const { compilerOptions } = require('./test/tsconfig.json');

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test', '<rootDir>/packages/multizone-flags/test', '<rootDir>/packages/multizone-cli/test'],
  testMatch: ['**/*.test.ts'],
  testPathIgnorePatterns: ['/node_modules/', '/test/e2e/'],
  moduleNameMapper: pathsToModuleNameMapper(compilerOptions.paths, { prefix: '<rootDir>/' }),
  transform: { '^.+\\.tsx?$': ['ts-jest', { tsconfig: '<rootDir>/test/tsconfig.json' }] },
};
