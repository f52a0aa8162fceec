//! Access tokens for API clients that log in as a user: HS256, 15 minutes,
//! with the session id in `sid`, so revoking the session (log-out, password
//! change or reset, "log out other sessions") kills the token too.
use crate::model::{SessionId, UserId};
use chrono::{Duration, Utc};
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::{Error, Result};

pub const LIFETIME: Duration = Duration::minutes(15);

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub sid: SessionId,
    pub iat: i64,
    pub exp: i64,
}

/// The HS256 key, from `JWT_SECRET` (at least 32 bytes).
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl JwtKeys {
    pub fn new(secret: &[u8]) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
        }
    }

    pub fn issue(&self, user_id: UserId, session_id: SessionId) -> Result<(String, i64)> {
        let now = Utc::now();
        let claims = Claims {
            sub: user_id,
            sid: session_id,
            iat: now.timestamp(),
            exp: (now + LIFETIME).timestamp(),
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| Error::Internal(anyhow::anyhow!("Failed to sign a token: {e}")))?;
        Ok((token, LIFETIME.num_seconds()))
    }

    /// The claims of a token signed with this key and not expired; whether
    /// its session is still live is for `sessions` to say.
    pub fn verify(&self, token: &str) -> Result<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        Ok(decode::<Claims>(token, &self.decoding, &validation)
            .map_err(|_| Error::Unauthenticated)?
            .claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_carries_the_session_and_expires_in_fifteen_minutes() {
        let keys = JwtKeys::new(b"0123456789abcdef0123456789abcdef");
        let (user, session) = (UserId::new_v4(), SessionId::new_v4());
        let (token, expires_in) = keys.issue(user, session).unwrap();
        assert_eq!(expires_in, 900);
        let claims = decode::<Claims>(&token, &keys.decoding, &Validation::new(Algorithm::HS256))
            .unwrap()
            .claims;
        assert_eq!((claims.sub, claims.sid), (user, session));
        assert_eq!(claims.exp - claims.iat, 900);
        let other = JwtKeys::new(b"another secret of at least 32 bytes!");
        assert!(
            decode::<Claims>(&token, &other.decoding, &Validation::new(Algorithm::HS256)).is_err()
        );
    }
}
