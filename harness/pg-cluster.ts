/** The PostgreSQL clusters of tests and bench/ are the local stack's (`elt up`): one implementation. */
export * from '../replicator/src/local-stack/pg-cluster.js';
