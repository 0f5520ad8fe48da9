//! Root token generation from unseal shares (`sys/generate-root*`): the
//! way back in when every root token has been revoked, as Vault does it.
//!
//! An attempt is started with a one-time pad (OTP) the size of a token;
//! operators then submit shares; once a threshold of them forms this
//! vault's unseal key, a new root token is made and returned only as
//! `base64(token XOR otp)` (unpadded, as Vault), so the shares' holders
//! never see it and only the holder of the OTP can decode it.
//!
//! Owns: the attempt (nonce, OTP, shares so far), as typed methods of
//! [`Core`]. Must not touch: HTTP shapes, physical storage.

use base64::Engine;
use zeroize::Zeroizing;

use super::token_store::SERVICE_TOKEN_LEN;
use super::{Core, CoreError};
use crate::crypto::{ct_eq, random_base62, SecretBytes};
use crate::seal::UnsealProgress;

/// An attempt in progress. The OTP is wiped when it ends.
pub(crate) struct GenerateRootAttempt {
    otp: Zeroizing<String>,
    progress: UnsealProgress,
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
    /// OTP, base64 without padding.
    pub encoded_token: Option<String>,
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
            },
            Some(a) => GenerateRootStatus {
                started: true,
                nonce: a.progress.attempt_nonce().to_string(),
                progress: a.progress.progress(),
                required,
                otp_length: SERVICE_TOKEN_LEN,
                encoded_token: None,
            },
        })
    }

    /// Starts an attempt. With `otp` (exactly `otp_length` characters) the
    /// caller chose the pad; without, one is generated and returned, once.
    pub fn generate_root_init(
        &self,
        otp: Option<String>,
    ) -> Result<(GenerateRootStatus, Option<Zeroizing<String>>), CoreError> {
        if self.is_sealed() {
            return Err(CoreError::Sealed);
        }
        let (otp, generated) = match otp.filter(|o| !o.is_empty()) {
            Some(o) if o.len() == SERVICE_TOKEN_LEN && o.is_ascii() => (Zeroizing::new(o), false),
            Some(_) => {
                return Err(CoreError::BadRequest(format!(
                    "otp must be {SERVICE_TOKEN_LEN} ASCII characters (otp_length); omit it to have one generated"
                )))
            }
            None => (Zeroizing::new(random_base62(SERVICE_TOKEN_LEN)), true),
        };
        {
            let mut st = self.seal_state();
            if st.generate_root.is_some() {
                return Err(bad("root generation already in progress"));
            }
            st.generate_root = Some(GenerateRootAttempt {
                otp: otp.clone(),
                progress: UnsealProgress::new(),
            });
        }
        let status = self.generate_root_status()?;
        Ok((status, generated.then_some(otp)))
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
    /// token and returns it encoded with the OTP; the attempt ends. Shares
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
        let (key, otp, nonce) = {
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
                Some(k) => (k, a.otp.clone(), nonce),
            }
        };
        if self.barrier().verify_unseal_key(&key).is_err() {
            if let Some(a) = self.seal_state().generate_root.as_mut() {
                a.progress.reset();
            }
            return Err(bad(
                "the submitted shares do not form this vault's unseal key; progress was reset: \
                 submit a threshold of this vault's shares again (with the new nonce from \
                 the attempt's status), or cancel the attempt",
            ));
        }
        let token = self.create_root_token(None)?;
        self.seal_state().generate_root = None;
        let encoded = encode_token(token.expose(), &otp)
            .ok_or_else(|| CoreError::Internal("root token length differs from the OTP".into()))?;
        tracing::info!("a root token was generated from unseal shares");
        Ok(GenerateRootStatus {
            started: true,
            nonce,
            progress: threshold,
            required: threshold as u64,
            otp_length: SERVICE_TOKEN_LEN,
            encoded_token: Some(encoded),
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
