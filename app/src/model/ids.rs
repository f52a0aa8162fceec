//! Ids that cannot be swapped: a function that takes an [`EndpointId`] and a
//! [`DeliveryId`] does not compile with the two the wrong way round. Each is a
//! UUID on the wire, in forms and in the database (serde and sqlx see
//! through it), so the newtype costs nothing outside the type checker.
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident;)+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        #[cfg_attr(feature = "ssr", derive(sqlx::Type, utoipa::ToSchema), sqlx(transparent))]
        #[cfg_attr(feature = "ssr", schema(value_type = uuid::Uuid))]
        pub struct $name(pub Uuid);

        impl $name {
            pub const fn from_u128(value: u128) -> Self {
                Self(Uuid::from_u128(value))
            }

            pub fn as_uuid(self) -> Uuid {
                self.0
            }

            /// A new random id.
            #[cfg(feature = "ssr")]
            pub fn new_v4() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(raw).map(Self)
            }
        }
    )+};
}

ids! {
    /// An organization (a tenant).
    OrgId;
    /// A person's account.
    UserId;
    /// A code in an organization's catalogue, the same across its versions.
    CodeId;
    /// A comment on a code.
    CommentId;
    /// A webhook endpoint.
    EndpointId;
    /// One event's delivery to one endpoint, across its attempts.
    DeliveryId;
    /// An API key.
    ApiKeyId;
    /// An invitation to join an organization.
    InvitationId;
    /// A signed-in session (a browser's, or an access token's).
    SessionId;
    /// A release of an organization's catalogue.
    ReleaseId;
    /// An import of a file of codes, recorded as one operation.
    ImportId;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_a_bare_uuid_on_the_wire() {
        let id = CodeId::from_u128(7);
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"00000000-0000-0000-0000-000000000007\"");
        assert_eq!(serde_json::from_str::<CodeId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<CodeId>().unwrap(), id);
    }

    #[test]
    fn text_that_is_not_a_uuid_is_not_an_id() {
        assert!("S72.0".parse::<CodeId>().is_err());
    }
}
