//! A person of the person master and the Microsoft account it is linked to.

use crate::ids::{ClientId, PersonId};

/// A row of `persons`, reduced to what the job needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub client_id: ClientId,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub active: bool,
    /// `None` when neither link column contains a non-blank value.
    pub account: Option<MicrosoftAccount>,
}

impl Person {
    /// Full name as Webdesk shows it, for log lines and reports.
    pub fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name).trim().to_owned()
    }
}

/// Key of a person in Microsoft Graph.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MicrosoftAccount {
    /// The Entra object id, the stable key.
    ObjectId(String),
    /// The user principal name, used only when no object id is set.
    UserPrincipalName(String),
}

fn non_blank(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl MicrosoftAccount {
    /// Builds the link from the two `persons` columns: blank values count as unset, and
    /// the object id wins when both are set because a user principal name can be renamed.
    pub fn from_columns(object_id: Option<&str>, user_principal_name: Option<&str>) -> Option<Self> {
        if let Some(id) = non_blank(object_id) {
            return Some(Self::ObjectId(id.to_owned()));
        }
        non_blank(user_principal_name).map(|upn| Self::UserPrincipalName(upn.to_owned()))
    }

    /// Returns the path segment Graph accepts after `/users/`.
    pub fn as_graph_key(&self) -> &str {
        match self {
            Self::ObjectId(id) => id,
            Self::UserPrincipalName(upn) => upn,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_prefers_object_id() {
        let account = MicrosoftAccount::from_columns(Some(" 1b2c "), Some("a@example.com"));
        assert_eq!(account, Some(MicrosoftAccount::ObjectId("1b2c".into())));
    }

    #[test]
    fn account_falls_back_to_upn() {
        let account = MicrosoftAccount::from_columns(Some("   "), Some(" A@Example.com "));
        assert_eq!(account, Some(MicrosoftAccount::UserPrincipalName("A@Example.com".into())));
    }

    #[test]
    fn account_blank_columns_mean_unlinked() {
        assert_eq!(MicrosoftAccount::from_columns(None, Some("")), None);
        assert_eq!(MicrosoftAccount::from_columns(Some(" "), None), None);
    }
}
