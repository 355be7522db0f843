/** The Makefile's Python virtualenvs, as `elt up` finds them: one implementation. */
export * from '../replicator/src/local-stack/venvs.js';
