'use strict';
// open311 0.0.12 requires sparkxml from git://github.com/codeforamerica/node-sparkxml.git, which is not
// on the npm registry; it is only called for XML responses. This stand-in fails loudly if it is.
module.exports = {
  parseXml() {
    throw new Error('sparkxml is not installed (a GitHub-only dependency): use format "json"');
  },
};
