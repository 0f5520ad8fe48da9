//! Any text given to the policy parser yields a policy or an error, never a
//! panic; a parsed policy compiles into an ACL that answers any path.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vault_rs::policy::{parse, Acl};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(policy) = parse("fuzz", text) {
        let acl = Acl::new(&[Arc::new(policy)]);
        let _ = acl.capabilities("secret/data/app/x");
        let _ = acl.capabilities_strings(text);
    }
});
