//! Typed row ids of the Webdesk person master, so a group id is never passed as a person id.

use std::fmt;

macro_rules! row_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

row_id!(
    /// Primary key of `persons`.
    PersonId
);
row_id!(
    /// Primary key of `clients` (a Mandant).
    ClientId
);
row_id!(
    /// Primary key of `groups`.
    GroupId
);
