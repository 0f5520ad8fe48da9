//! Share decoding and unseal progress never panic on any input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vault_rs::seal::{decode_share, UnsealProgress};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut progress = UnsealProgress::new();
    for part in text.split('\n').take(4) {
        if let Ok(share) = decode_share(part) {
            let _ = progress.add(share, 2);
        }
    }
});
