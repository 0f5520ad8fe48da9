//! Whatever bytes sit in storage, reading them through the barrier fails
//! cleanly (opaque error) instead of panicking.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use vault_rs::barrier::Barrier;
use vault_rs::physical::{Backend, InmemBackend};
use vault_rs::seal::{new_unseal_key, SealConfig};

fuzz_target!(|data: &[u8]| {
    let physical = Arc::new(InmemBackend::new());
    let barrier = Barrier::new(physical.clone());
    let Ok(config) = SealConfig::new(1, 1) else { return };
    if barrier.initialize(&new_unseal_key(), &config).is_err() {
        return;
    }
    let view = barrier.view("fuzz");
    if view.put("k", b"v").is_err() {
        return;
    }
    let Ok(keys) = physical.scan("d/") else { return };
    for key in keys {
        let _ = physical.put(&key, data);
    }
    let _ = view.get("k");
    let _ = view.list("");
});
