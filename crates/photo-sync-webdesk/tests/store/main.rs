//! Integration tests of the Webdesk adapter against real databases: an SQLite file in a
//! temporary folder, and a new database on the PostgreSQL test server that
//! `PHOTO_SYNC_TEST_POSTGRES` names (`cargo xtask test` starts one and sets it). Most
//! tests run once per backend. One test binary keeps the link time down.

mod directory;
mod lock;
mod migrate;
mod photos;
mod postgres;
mod runs;
mod support;
