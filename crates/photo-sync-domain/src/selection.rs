//! The administrator's selection in the job configuration: the update mode and the
//! references to persons, groups and clients (Mandanten).

use std::fmt;
use std::str::FromStr;

use crate::ids::{ClientId, GroupId, PersonId};

/// Rule for reconciling a Graph photo and a Webdesk image that both changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// "Mit Groupware-Bild überschreiben": the Graph photo always wins.
    Overwrite,
    /// "Aktuellstes Bild verwenden": the photo that changed last wins, so a Webdesk upload
    /// is never replaced by an older Graph photo.
    Newest,
}

impl UpdateMode {
    /// The values accepted by [`UpdateMode::from_str`], for error messages and help text.
    pub const ACCEPTED: &'static str =
        "\"newest\" (\"Aktuellstes Bild verwenden\") or \"overwrite\" (\"Mit Groupware-Bild überschreiben\")";

    /// Returns the short name used in configuration files and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Overwrite => "overwrite",
            Self::Newest => "newest",
        }
    }

    /// Returns the label the Webdesk screens show.
    pub fn webdesk_label(self) -> &'static str {
        match self {
            Self::Overwrite => "Mit Groupware-Bild überschreiben",
            Self::Newest => "Aktuellstes Bild verwenden",
        }
    }
}

impl fmt::Display for UpdateMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a mode that is neither a short name nor a Webdesk label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid update mode {value:?}: expected {}", UpdateMode::ACCEPTED)]
pub struct InvalidMode {
    pub value: String,
}

impl FromStr for UpdateMode {
    type Err = InvalidMode;

    /// Accepts the short names and the Webdesk labels in any letter case, ignoring
    /// surrounding whitespace.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let lowered = value.trim().to_lowercase();
        for mode in [Self::Overwrite, Self::Newest] {
            if lowered == mode.as_str() || lowered == mode.webdesk_label().to_lowercase() {
                return Ok(mode);
            }
        }
        Err(InvalidMode { value: value.to_owned() })
    }
}

/// A person chosen one by one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PersonRef {
    Id(PersonId),
    Username(String),
}

/// A chosen group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupRef {
    Id(GroupId),
    /// A group short name, valid only while exactly one client has a group of that name.
    ShortName(String),
    /// `CLIENT/GROUP`: client short name and group short name.
    Qualified {
        client: String,
        group: String,
    },
}

/// A chosen client (Mandant).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientRef {
    Id(ClientId),
    ShortName(String),
}

/// Error for a reference string that can never match a row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} reference {value:?}: {reason}")]
pub struct InvalidReference {
    pub kind: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl PersonRef {
    /// Parses a username; ids come in as numbers and use [`PersonRef::Id`] directly.
    pub fn parse(value: &str) -> Result<Self, InvalidReference> {
        non_blank("person", value).map(|v| Self::Username(v.to_owned()))
    }
}

impl ClientRef {
    /// Parses a client short name; ids come in as numbers.
    pub fn parse(value: &str) -> Result<Self, InvalidReference> {
        non_blank("client", value).map(|v| Self::ShortName(v.to_owned()))
    }
}

impl GroupRef {
    /// Parses `SHORT` or `CLIENT/SHORT`; ids come in as numbers.
    pub fn parse(value: &str) -> Result<Self, InvalidReference> {
        let value = non_blank("group", value)?;
        let Some((client, group)) = value.split_once('/') else {
            return Ok(Self::ShortName(value.to_owned()));
        };

        let (client, group) = (client.trim(), group.trim());
        if client.is_empty() || group.is_empty() || group.contains('/') {
            return Err(InvalidReference {
                kind: "group",
                value: value.to_owned(),
                reason: "expected a group short name or CLIENT/GROUP with both parts set",
            });
        }
        Ok(Self::Qualified { client: client.to_owned(), group: group.to_owned() })
    }
}

fn non_blank<'a>(kind: &'static str, value: &'a str) -> Result<&'a str, InvalidReference> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(InvalidReference { kind, value: value.to_owned(), reason: "the name is empty" });
    }
    Ok(trimmed)
}

impl fmt::Display for PersonRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Username(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for GroupRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::ShortName(name) => f.write_str(name),
            Self::Qualified { client, group } => write!(f, "{client}/{group}"),
        }
    }
}

impl fmt::Display for ClientRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::ShortName(name) => f.write_str(name),
        }
    }
}

/// The persons, groups and clients the job configuration names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    pub persons: Vec<PersonRef>,
    pub groups: Vec<GroupRef>,
    pub clients: Vec<ClientRef>,
    /// Whether group and client selections also reach inactive persons. Persons chosen
    /// one by one are always included.
    pub include_inactive: bool,
}

impl Selection {
    /// Returns whether nothing at all is selected, in which case the job does nothing.
    pub fn is_empty(&self) -> bool {
        self.persons.is_empty() && self.groups.is_empty() && self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_accepts_short_names_and_labels() {
        let cases = [
            ("newest", UpdateMode::Newest),
            ("Overwrite", UpdateMode::Overwrite),
            (" Aktuellstes Bild verwenden ", UpdateMode::Newest),
            ("aktuellstes bild verwenden", UpdateMode::Newest),
            ("MIT GROUPWARE-BILD ÜBERSCHREIBEN", UpdateMode::Overwrite),
            ("Mit Groupware-Bild überschreiben", UpdateMode::Overwrite),
        ];
        for (input, expected) in cases {
            assert_eq!(input.parse::<UpdateMode>(), Ok(expected), "input {input:?}");
        }
    }

    #[test]
    fn mode_rejects_unknown_value() {
        let error = "latest".parse::<UpdateMode>().expect_err("not a mode");
        insta::assert_snapshot!(error.to_string(), @r#"invalid update mode "latest": expected "newest" ("Aktuellstes Bild verwenden") or "overwrite" ("Mit Groupware-Bild überschreiben")"#);
    }

    #[test]
    fn group_ref_parses_qualified_and_short() {
        assert_eq!(GroupRef::parse("IT"), Ok(GroupRef::ShortName("IT".into())));
        assert_eq!(
            GroupRef::parse("ACME-AT/HR"),
            Ok(GroupRef::Qualified { client: "ACME-AT".into(), group: "HR".into() })
        );
    }

    #[test]
    fn group_ref_rejects_half_qualified() {
        for input in ["/HR", "ACME/", "A/B/C", "  "] {
            assert!(GroupRef::parse(input).is_err(), "input {input:?}");
        }
    }
}
