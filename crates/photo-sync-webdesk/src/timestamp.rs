//! Timestamps in the form the Webdesk contract fixes: UTC, and in SQLite the text
//! `YYYY-MM-DD HH:MM:SS.ffffff`.
//!
//! diesel 2.4 writes a SQLite `Timestamp` with as many fraction digits as the value needs,
//! such as `12:00:00.5` or nine digits for nanoseconds. This module therefore binds SQLite
//! timestamps as text it formats itself. PostgreSQL timestamps are bound as `TIMESTAMPTZ`,
//! so the session time zone cannot shift them.

use diesel::QueryResult;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Text, Timestamp, Timestamptz};
use diesel::sqlite::Sqlite;
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::connection::MultiBackend;

/// The text form of a timestamp in SQLite, always with six fraction digits.
const SQLITE_FORMAT: &[FormatItem<'_>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]");

/// Converts a stored timestamp, which is UTC by contract, into the domain's type.
pub(crate) fn from_stored(stored: PrimitiveDateTime) -> OffsetDateTime {
    stored.assume_utc()
}

/// A timestamp to bind in an `INSERT` or `UPDATE`, converted to UTC and cut to the
/// microseconds both backends store, so that it reads back equal.
#[derive(Debug, Clone, QueryId)]
pub(crate) struct UtcTimestamp {
    utc: OffsetDateTime,
    sqlite_text: String,
}

impl UtcTimestamp {
    pub(crate) fn new(value: OffsetDateTime) -> Self {
        let utc = value.to_offset(UtcOffset::UTC);
        let utc = utc.replace_nanosecond(utc.microsecond() * 1_000).unwrap_or(utc);
        let sqlite_text = utc
            .format(SQLITE_FORMAT)
            .expect("the format uses only date and time components, which every OffsetDateTime has");
        Self { utc, sqlite_text }
    }
}

impl From<OffsetDateTime> for UtcTimestamp {
    fn from(value: OffsetDateTime) -> Self {
        Self::new(value)
    }
}

impl Expression for UtcTimestamp {
    type SqlType = Timestamp;
}

impl<QS> AppearsOnTable<QS> for UtcTimestamp {}

impl<QS> SelectableExpression<QS> for UtcTimestamp {}

impl<GroupBy> ValidGrouping<GroupBy> for UtcTimestamp {
    type IsAggregate = is_aggregate::Never;
}

impl QueryFragment<Sqlite> for UtcTimestamp {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        pass.push_bind_param::<Text, String>(&self.sqlite_text)
    }
}

impl QueryFragment<Pg> for UtcTimestamp {
    fn walk_ast<'b>(&'b self, mut pass: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        pass.push_bind_param::<Timestamptz, OffsetDateTime>(&self.utc)
    }
}

impl QueryFragment<MultiBackend> for UtcTimestamp {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn sqlite_text_has_six_fraction_digits() {
        let cases = [
            (datetime!(2026-03-01 08:15:30 UTC), "2026-03-01 08:15:30.000000"),
            (datetime!(2026-03-01 08:15:30.5 UTC), "2026-03-01 08:15:30.500000"),
            (datetime!(2026-03-01 08:15:30.123456789 UTC), "2026-03-01 08:15:30.123456"),
            (datetime!(2026-03-01 09:15:30.25 +01:00), "2026-03-01 08:15:30.250000"),
        ];
        for (value, text) in cases {
            assert_eq!(UtcTimestamp::new(value).sqlite_text, text, "value {value}");
        }
    }

    #[test]
    fn diesel_alone_trims_fraction_digits() {
        use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};

        #[derive(QueryableByName)]
        struct Value {
            #[diesel(sql_type = Text)]
            value: String,
        }

        // This is why `UtcTimestamp` formats SQLite timestamps itself. If diesel starts
        // writing six digits, the workaround can go.
        let mut connection = SqliteConnection::establish(":memory:").expect("an in-memory database opens");
        let rows: Vec<Value> = diesel::sql_query("SELECT CAST(? AS TEXT) AS value")
            .bind::<Timestamp, _>(time::macros::datetime!(2026-03-01 08:15:30.5))
            .load(&mut connection)
            .expect("the query runs");
        assert_eq!(rows[0].value, "2026-03-01 08:15:30.5");
    }

    #[test]
    fn new_converts_to_utc_microseconds() {
        let stamp = UtcTimestamp::new(datetime!(2026-03-01 00:30:00.123456789 +02:00));
        assert_eq!(stamp.utc, datetime!(2026-02-28 22:30:00.123456 UTC));
    }
}
