const { NxAppWebpackPlugin } = require('@nx/webpack/app-plugin');
const { basename, join } = require('path');

/**
 * The one webpack configuration of every app: `module.exports = require('../../tools/webpack/node-app')(__dirname)`.
 * tsc, not esbuild/swc: Nest and class-validator need the decorator metadata tsc emits.
 */
module.exports = (appDir) => ({
  output: { path: join(__dirname, '../../dist/apps', basename(appDir)) },
  plugins: [
    new NxAppWebpackPlugin({
      target: 'node',
      compiler: 'tsc',
      main: './src/main.ts',
      tsConfig: './tsconfig.app.json',
      optimization: false,
      outputHashing: 'none',
      generatePackageJson: true,
    }),
  ],
});
