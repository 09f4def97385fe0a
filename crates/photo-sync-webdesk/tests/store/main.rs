//! Integration tests of the Webdesk adapter against real SQLite files in temporary
//! folders. One test binary keeps the link time down.

mod directory;
mod migrate;
mod photos;
mod support;
