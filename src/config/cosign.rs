//! A cosign public key (`cosign_key`): read and checked when the configuration is
//! loaded, so a key that cannot be used is a configuration error, not a blocked update
//! hours later. What it verifies is `crate::policy::signature`'s business.

use std::path::Path;

use p256::ecdsa::signature::Verifier as _;
use p256::ecdsa::{Signature as EcdsaSignature, VerifyingKey};
use p256::pkcs8::DecodePublicKey as _;

/// An ECDSA P-256 public key (what `cosign generate-key-pair` writes to `cosign.pub`).
#[derive(Debug, Clone)]
pub struct Key(VerifyingKey);

impl Key {
    /// Parses a PEM `PUBLIC KEY` (SubjectPublicKeyInfo) holding a P-256 key.
    pub fn from_pem(text: &str) -> Result<Key, String> {
        p256::PublicKey::from_public_key_pem(text.trim())
            .map(|k| Key(VerifyingKey::from(k)))
            .map_err(|e| {
                format!("not an ECDSA P-256 public key in PEM (`-----BEGIN PUBLIC KEY-----`, as cosign.pub): {e}")
            })
    }

    /// Reads and parses the key file at `path`; the error names the file.
    pub fn read(path: &Path) -> Result<Key, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            // Without the "(os error N)" tail, which means nothing to users.
            let reason = e.to_string();
            let reason = reason.split(" (os error ").next().unwrap_or(&reason);
            format!("cannot read the cosign key {}: {reason}", path.display())
        })?;
        Key::from_pem(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Whether `signature` (ASN.1 DER, as cosign writes it, or the fixed 64-byte form)
    /// is this key's ECDSA signature over SHA-256 of `message`.
    pub fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let parsed =
            EcdsaSignature::from_der(signature).or_else(|_| EcdsaSignature::from_slice(signature));
        parsed.is_ok_and(|s| self.0.verify(message, &s).is_ok())
    }
}
