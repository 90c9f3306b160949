// every app builds the same way: tools/webpack/node-app.js
module.exports = require('../../tools/webpack/node-app')(__dirname);
