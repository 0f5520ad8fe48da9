//! Root token generation from unseal shares (`sys/generate-root*`): the
//! way back in when every root token has been revoked, as Vault does it.
//!
//! An attempt is started with a one-time pad (OTP) the size of a token, or
//! with an operator's OpenPGP public key (`pgp_key`); operators then submit
//! shares; once a threshold of them forms this vault's unseal key, a new
//! root token is made and returned only as `base64(token XOR otp)`
//! (unpadded, as Vault), or as the base64 of an OpenPGP message encrypted
//! to the key (the token itself is its plaintext, as Vault), so the shares'
//! holders never see it and only the holder of the OTP (or of the private
//! key) can read it.
//!
//! Owns: the attempt (nonce, OTP, shares so far), as typed methods of
//! [`Core`]. Must not touch: HTTP shapes, physical storage.

use base64::Engine;
use zeroize::Zeroizing;

use super::token_store::SERVICE_TOKEN_LEN;
use super::{Core, CoreError};
use crate::crypto::{ct_eq, random_base62, SecretBytes};
use crate::seal::pgp::PgpRecipient;
use crate::seal::UnsealProgress;

/// An attempt in progress. The OTP is wiped when it ends.
pub(crate) struct GenerateRootAttempt {
    pad: RootPad,
    progress: UnsealProgress,
}

/// How the new root token is handed out.
enum RootPad {
    Otp(Zeroizing<String>),
    Pgp(Box<PgpRecipient>),
}

impl RootPad {
    fn fingerprint(&self) -> String {
        match self {
            RootPad::Otp(_) => String::new(),
            RootPad::Pgp(k) => k.fingerprint.clone(),
        }
    }

    /// The token as the caller gets it.
    fn encode(&self, token: &str) -> Result<String, CoreError> {
        match self {
            RootPad::Otp(otp) => encode_token(token, otp).ok_or_else(|| {
                CoreError::Internal("root token length differs from the OTP".into())
            }),
            RootPad::Pgp(key) => {
                let message = crate::seal::pgp::encrypt(key, token.as_bytes())?;
                Ok(base64::engine::general_purpose::STANDARD.encode(message))
            }
        }
    }
}

/// Where root token generation stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateRootStatus {
    pub started: bool,
    pub nonce: String,
    pub progress: usize,
    pub required: u64,
    /// Length of the OTP (and of a token).
    pub otp_length: usize,
    /// Set when this call completed the attempt: the new root token XOR the
    /// OTP, base64 without padding (or the base64 OpenPGP message).
    pub encoded_token: Option<String>,
    /// The fingerprint of the attempt's `pgp_key` ("" with an OTP).
    pub pgp_fingerprint: String,
}

fn bad(m: &str) -> CoreError {
    CoreError::BadRequest(m.to_string())
}

/// `base64(token XOR otp)` without padding, as Vault encodes it.
pub fn encode_token(token: &str, otp: &str) -> Option<String> {
    if token.len() != otp.len() {
        return None;
    }
    let xored: Zeroizing<Vec<u8>> =
        Zeroizing::new(token.bytes().zip(otp.bytes()).map(|(t, o)| t ^ o).collect());
    Some(base64::engine::general_purpose::STANDARD_NO_PAD.encode(&xored[..]))
}

impl Core {
    fn generate_root_threshold(&self) -> Result<u64, CoreError> {
        Ok(self
            .barrier()
            .seal_config()?
            .ok_or(CoreError::NotInitialized)?
            .secret_threshold
            .into())
    }

    /// Where the attempt stands (the vault must be unsealed).
    pub fn generate_root_status(&self) -> Result<GenerateRootStatus, CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        let required = self.generate_root_threshold()?;
        let st = self.seal_state();
        Ok(match st.generate_root.as_ref() {
            None => GenerateRootStatus {
                started: false,
                nonce: String::new(),
                progress: 0,
                required,
                otp_length: SERVICE_TOKEN_LEN,
                encoded_token: None,
                pgp_fingerprint: String::new(),
            },
            Some(a) => GenerateRootStatus {
                started: true,
                nonce: a.progress.attempt_nonce().to_string(),
                progress: a.progress.progress(),
                required,
                otp_length: SERVICE_TOKEN_LEN,
                encoded_token: None,
                pgp_fingerprint: a.pad.fingerprint(),
            },
        })
    }

    /// Starts an attempt. With `otp` (exactly `otp_length` characters) the
    /// caller chose the pad; with `pgp_key` the token will be encrypted to
    /// that key; with neither, an OTP is generated and returned, once.
    pub fn generate_root_init(
        &self,
        otp: Option<String>,
        pgp_key: Option<PgpRecipient>,
    ) -> Result<(GenerateRootStatus, Option<Zeroizing<String>>), CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        let (pad, generated) = match (otp.filter(|o| !o.is_empty()), pgp_key) {
            (Some(_), Some(_)) => {
                return Err(bad("otp and pgp_key are mutually exclusive: give one of them"))
            }
            (None, Some(key)) => (RootPad::Pgp(Box::new(key)), None),
            (Some(o), None) if o.len() == SERVICE_TOKEN_LEN && o.is_ascii() => {
                (RootPad::Otp(Zeroizing::new(o)), None)
            }
            (Some(_), None) => {
                return Err(CoreError::BadRequest(format!(
                    "otp must be {SERVICE_TOKEN_LEN} ASCII characters (otp_length); omit it to have one generated"
                )))
            }
            (None, None) => {
                let otp = Zeroizing::new(random_base62(SERVICE_TOKEN_LEN));
                (RootPad::Otp(otp.clone()), Some(otp))
            }
        };
        {
            let mut st = self.seal_state();
            if st.generate_root.is_some() {
                return Err(bad("root generation already in progress"));
            }
            st.generate_root = Some(GenerateRootAttempt {
                pad,
                progress: UnsealProgress::new(),
            });
        }
        let status = self.generate_root_status()?;
        Ok((status, generated))
    }

    /// Cancels the attempt (no error when there is none, as Vault).
    pub fn generate_root_cancel(&self) -> Result<(), CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        self.seal_state().generate_root = None;
        Ok(())
    }

    /// Submits one unseal share to the attempt `nonce` names. Once a
    /// threshold of shares forms this vault's unseal key, creates a root
    /// token and returns it encoded with the OTP (or encrypted to the
    /// attempt's `pgp_key`); the attempt ends. Shares
    /// that combine to another key are dropped (the attempt stays, with no
    /// progress) and the error says so.
    pub fn generate_root_update(
        &self,
        share: SecretBytes,
        nonce: &str,
    ) -> Result<GenerateRootStatus, CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        let threshold = self.generate_root_threshold()? as usize;
        // Once the shares form a key, the attempt is taken out under the
        // lock: the pad that encodes the token is this attempt's, whatever
        // another caller starts meanwhile.
        let (key, nonce, mut attempt) = {
            let mut st = self.seal_state();
            let Some(a) = st.generate_root.as_mut() else {
                return Err(bad("no root generation in progress"));
            };
            if !ct_eq(a.progress.attempt_nonce().as_bytes(), nonce.as_bytes()) {
                return Err(bad("incorrect nonce"));
            }
            let nonce = a.progress.attempt_nonce().to_string();
            match a.progress.add(share, threshold)? {
                None => {
                    drop(st);
                    return self.generate_root_status();
                }
                Some(k) => match st.generate_root.take() {
                    Some(attempt) => (k, nonce, attempt),
                    None => return Err(bad("no root generation in progress")),
                },
            }
        };
        if self.barrier().verify_unseal_key(&key).is_err() {
            attempt.progress.reset();
            let mut st = self.seal_state();
            if st.generate_root.is_none() {
                st.generate_root = Some(attempt);
            }
            return Err(bad(
                "the submitted shares do not form this vault's unseal key; progress was reset: \
                 submit a threshold of this vault's shares again (with the new nonce from \
                 the attempt's status), or cancel the attempt",
            ));
        }
        // The attempt has ended, whatever happens next; its pad (the OTP,
        // wiped on drop, or the key) encodes the new token.
        let token = self.create_root_token(None)?;
        let encoded = attempt.pad.encode(token.expose())?;
        tracing::info!("a root token was generated from unseal shares");
        Ok(GenerateRootStatus {
            started: true,
            nonce,
            progress: threshold,
            required: threshold as u64,
            otp_length: SERVICE_TOKEN_LEN,
            encoded_token: Some(encoded),
            pgp_fingerprint: attempt.pad.fingerprint(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_vaults_xor_and_unpadded_base64() {
        // The pair OpenBao's CLI decodes: `bao operator generate-root
        // -decode=HWY5CRssK3d7BlwDI1JyPDx0B3seaQILLGc -otp=nHMz…` gives this token.
        let otp = "nHMzbMxFMM6wTaBYs931y032MT";
        let token = "s.tsyaS16Kjtw30eOM4JgY19a3";
        assert_eq!(
            encode_token(token, otp).as_deref(),
            Some("HWY5CRssK3d7BlwDI1JyPDx0B3seaQILLGc")
        );
        assert_eq!(encode_token("short", otp), None);
    }
}
