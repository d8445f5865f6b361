//! Tests of the store as a whole, by what they test: the SQLite database under it (PRAGMAs,
//! constraints, WAL, indexes), the grant lifecycle, the tokens and codes a grant is given and their
//! lookups, the revocation cascade and its events, connections, clients and the audit trail.

mod audit;
mod clients;
mod connections;
mod database;
mod grants;
mod revocation;
mod tokens;
