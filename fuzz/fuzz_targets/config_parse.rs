//! The server configuration parser never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vault_rs::config::Config;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Config::parse(text, std::path::Path::new("."));
    }
});
