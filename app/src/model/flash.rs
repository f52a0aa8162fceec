//! What a page shows once, after the form whose answer led to it: a secret
//! the server will never show again, or a word on what the form did. The
//! pages are rendered by the server, so the form's answer (a redirect)
//! hands it to the next page in a sealed cookie (`backend::flash`).
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flash {
    /// A new API key or webhook signing secret, in full.
    Secret(String),
    /// What was done ("Invitation sent to …").
    Notice(String),
    /// What was typed into a form the server refused, field by field (a
    /// field with several values appears once per value), so the page
    /// fills the form in again and nothing typed is lost. Never a password.
    Typed(Vec<(String, String)>),
}

impl Flash {
    pub fn secret(&self) -> Option<&str> {
        match self {
            Flash::Secret(secret) => Some(secret),
            _ => None,
        }
    }

    pub fn notice(&self) -> Option<&str> {
        match self {
            Flash::Notice(notice) => Some(notice),
            _ => None,
        }
    }

    /// The form typed in, if this is one.
    pub fn typed(&self) -> Option<Typed<'_>> {
        match self {
            Flash::Typed(fields) => Some(Typed(fields)),
            _ => None,
        }
    }
}

/// The fields of a refused form (`Flash::Typed`).
#[derive(Debug, Clone, Copy)]
pub struct Typed<'a>(&'a [(String, String)]);

impl<'a> Typed<'a> {
    /// The value of `name`, or empty when the form did not send it (an
    /// unticked checkbox).
    pub fn value(self, name: &str) -> String {
        self.values(name).next().unwrap_or_default().to_owned()
    }

    /// Every value sent under `name`, in order.
    pub fn values(self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(field, _)| field == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn has(self, name: &str) -> bool {
        self.0.iter().any(|(field, _)| field == name)
    }
}

/// The fields of a form as `Flash::Typed` holds them; `None` leaves a
/// field out (an unticked checkbox).
pub fn typed<'a>(fields: impl IntoIterator<Item = (&'a str, Option<String>)>) -> Flash {
    Flash::Typed(
        fields
            .into_iter()
            .filter_map(|(name, value)| Some((name.to_owned(), value?)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_form_gives_back_each_field_and_leaves_out_the_unsent() {
        let flash = typed([
            ("url", Some("https://10.0.0.1/hook".into())),
            ("active", None),
            ("event_types", Some("code.created".into())),
        ]);
        let Flash::Typed(mut fields) = flash else {
            panic!("typed");
        };
        fields.push(("event_types".into(), "code.deleted".into()));
        let flash = Flash::Typed(fields);
        let form = flash.typed().unwrap();
        assert_eq!(form.value("url"), "https://10.0.0.1/hook");
        assert_eq!(form.value("active"), "");
        assert!(!form.has("active"));
        assert_eq!(
            form.values("event_types").collect::<Vec<_>>(),
            ["code.created", "code.deleted"]
        );
        assert_eq!(flash.secret(), None);
    }
}
