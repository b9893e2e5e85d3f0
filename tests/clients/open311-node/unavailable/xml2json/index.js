'use strict';
// open311 0.0.12 requires xml2json ~0.2.4, whose node-expat 1.4.1 is a native addon built with
// node-waf (the build tool before node-gyp, gone since Node 0.8): its install fails with
// `node-waf: not found`. It is only called to read an XML create response; this stand-in fails
// loudly if it is.
module.exports = {
  toJson() {
    throw new Error('xml2json is not installed (node-expat 1.4.1 needs node-waf): use format "json"');
  },
};
