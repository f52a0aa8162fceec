//! Signing secrets, and their sealing at rest. HMAC needs the secret
//! itself, so it cannot be hashed like a password: it is encrypted with the
//! instance's key (XChaCha20-Poly1305, a random nonce per seal), bound to
//! its organization and endpoint so a sealed secret copied to another row
//! does not open.
use crate::model::{EndpointId, OrgId};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

const PREFIX: &str = "whsec_";
/// Random bytes in a new secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const KEY_BYTES: usize = 32;

/// A webhook signing secret: `whsec_` and base64 of its bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

impl SigningSecret {
    pub fn generate() -> Self {
        let mut bytes = vec![0u8; SECRET_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn parse(text: &str) -> Option<Self> {
        let bytes = BASE64.decode(text.strip_prefix(PREFIX)?).ok()?;
        (!bytes.is_empty()).then_some(Self(bytes))
    }

    pub fn key(&self) -> &[u8] {
        &self.0
    }

    /// The text shown once to the person who created the endpoint.
    pub fn reveal(&self) -> String {
        format!("{PREFIX}{}", BASE64.encode(&self.0))
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(…)")
    }
}

/// The instance's key for sealing secrets, or a key derived from it for
/// one purpose.
#[derive(Clone)]
pub struct SecretKey(Arc<Sealer>);

struct Sealer {
    cipher: XChaCha20Poly1305,
    /// Kept to derive keys for other purposes from (`derive`).
    bytes: zeroize::Zeroizing<[u8; KEY_BYTES]>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(…)")
    }
}

impl SecretKey {
    /// A key from 32 bytes, given as base64 (the `CODEBOOK_WEBHOOK_KEY`
    /// environment variable).
    pub fn from_base64(text: &str) -> anyhow::Result<Self> {
        let bytes = BASE64
            .decode(text.trim())
            .map_err(|_| anyhow::anyhow!("the webhook key is not base64"))?;
        Self::from_bytes(&bytes)
    }

    fn from_bytes(bytes: &[u8]) -> anyhow::Result<Self> {
        if bytes.len() != KEY_BYTES {
            anyhow::bail!(
                "the webhook key must be {KEY_BYTES} bytes (base64 of 32 random bytes, e.g. `openssl rand -base64 32`), got {}",
                bytes.len()
            );
        }
        let cipher = XChaCha20Poly1305::new_from_slice(bytes)
            .map_err(|_| anyhow::anyhow!("the webhook key has the wrong length"))?;
        let mut kept = zeroize::Zeroizing::new([0u8; KEY_BYTES]);
        kept.copy_from_slice(bytes);
        Ok(Self(Arc::new(Sealer {
            cipher,
            bytes: kept,
        })))
    }

    /// A key of its own for `purpose` (HKDF-SHA256 of this one), so that
    /// what one purpose seals never opens as another's.
    pub fn derive(&self, purpose: &str) -> Self {
        let mut derived = zeroize::Zeroizing::new([0u8; KEY_BYTES]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, self.0.bytes.as_slice())
            .expand(purpose.as_bytes(), derived.as_mut_slice())
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        Self::from_bytes(derived.as_slice()).expect("32 bytes make a key")
    }

    /// A key that lives as long as the process: for tests only, as secrets
    /// sealed with it cannot be opened after a restart.
    pub fn ephemeral() -> Self {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self::from_bytes(&bytes).expect("32 bytes make a key")
    }

    /// The development key in `path`, made there (readable by its owner
    /// only) the first time.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        if let Ok(text) = std::fs::read_to_string(path) {
            return Self::from_base64(&text)
                .with_context(|| format!("Failed to read the webhook key in {}", path.display()));
        }
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        write_private(path, &BASE64.encode(bytes))
            .with_context(|| format!("Failed to write the webhook key to {}", path.display()))?;
        Self::from_bytes(&bytes)
    }

    pub fn seal(&self, secret: &SigningSecret, org_id: OrgId, endpoint_id: EndpointId) -> Vec<u8> {
        self.seal_bytes(secret.key(), &binding(org_id, endpoint_id))
    }

    pub fn open(
        &self,
        sealed: &[u8],
        org_id: OrgId,
        endpoint_id: EndpointId,
    ) -> anyhow::Result<SigningSecret> {
        let bytes = self
            .open_bytes(sealed, &binding(org_id, endpoint_id))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "a webhook secret does not open with this instance's key (was CODEBOOK_WEBHOOK_KEY changed?)"
                )
            })?;
        Ok(SigningSecret(bytes))
    }

    /// `message` encrypted and bound to `context`: it opens only with this
    /// key and the same context. A random nonce is prepended.
    pub fn seal_bytes(&self, message: &[u8], context: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: message,
                    aad: context,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message of this size");
        [nonce.as_slice(), &sealed].concat()
    }

    /// What `seal_bytes` sealed, if it was this key and this context.
    pub fn open_bytes(&self, sealed: &[u8], context: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() <= NONCE_BYTES {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_BYTES);
        self.0
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context,
                },
            )
            .ok()
    }
}

fn binding(org_id: OrgId, endpoint_id: EndpointId) -> Vec<u8> {
    [org_id.0.as_bytes().as_slice(), endpoint_id.0.as_bytes()].concat()
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_key_opens_only_what_it_sealed() {
        let key = SecretKey::ephemeral();
        let flash = key.derive("flash");
        let sealed = flash.seal_bytes(b"message", b"context");
        assert_eq!(
            flash.open_bytes(&sealed, b"context").as_deref(),
            Some(b"message".as_slice())
        );
        assert!(key.open_bytes(&sealed, b"context").is_none());
        assert!(key
            .derive("other")
            .open_bytes(&sealed, b"context")
            .is_none());
        let again = key.derive("flash").seal_bytes(b"m", b"c");
        assert!(
            flash.open_bytes(&again, b"c").is_some(),
            "derivation is stable"
        );
    }

    #[test]
    fn a_secret_reads_back_from_its_text() {
        let secret = SigningSecret::generate();
        let text = secret.reveal();
        assert!(text.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&text), Some(secret));
        assert_eq!(SigningSecret::parse("whsec_"), None);
        assert_eq!(SigningSecret::parse("C2FVsBQIhrscChlQIMV"), None);
    }

    #[test]
    fn a_sealed_secret_opens_only_for_its_own_endpoint_and_key() {
        let key = SecretKey::ephemeral();
        let (org, endpoint) = (OrgId::new_v4(), EndpointId::new_v4());
        let secret = SigningSecret::generate();
        let sealed = key.seal(&secret, org, endpoint);
        assert!(!sealed
            .windows(secret.key().len())
            .any(|w| w == secret.key()));
        assert_eq!(key.open(&sealed, org, endpoint).unwrap(), secret);
        assert!(key.open(&sealed, org, EndpointId::new_v4()).is_err());
        assert!(key.open(&sealed, OrgId::new_v4(), endpoint).is_err());
        assert!(SecretKey::ephemeral().open(&sealed, org, endpoint).is_err());
        assert!(key.open(&sealed[..10], org, endpoint).is_err());
    }

    #[test]
    fn the_development_key_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("cb-key-{}", OrgId::new_v4()));
        let path = dir.join("webhook.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let sealed = first.seal(
            &SigningSecret::generate(),
            OrgId::from_u128(0),
            EndpointId::from_u128(0),
        );
        let again = SecretKey::load_or_create(&path).unwrap();
        assert!(again
            .open(&sealed, OrgId::from_u128(0), EndpointId::from_u128(0))
            .is_ok());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_key_must_be_32_bytes_of_base64() {
        assert!(SecretKey::from_base64("not base64!").is_err());
        assert!(SecretKey::from_base64(&BASE64.encode([1u8; 16])).is_err());
        assert!(SecretKey::from_base64(&BASE64.encode([1u8; 32])).is_ok());
    }
}
