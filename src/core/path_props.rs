//! Property test of the canonical-path rule over every engine's routes.
//!
//! A token may do everything (`path "*"`, with sudo) except act on one
//! protected object per route (an exact `deny`). For generated spellings of
//! the protected path — case, surrounding whitespace, doubled and trailing
//! slashes, `%2F`, dot segments (plain and `%2e`), percent-encoded letters,
//! NUL, the legacy `sys/policy` alias — the request is either refused (400)
//! or decided and served as its canonical path:
//!
//! - a spelling that any lenient reading (decode everything, collapse
//!   slashes, drop dot segments, trim, fold policy names, resolve aliases)
//!   takes to the protected object is refused or denied, never served;
//! - a spelling the canonicaliser accepts gets the ACL decision of its
//!   canonical path (denied exactly when that is the protected path);
//! - a successful write stores the object at the canonical path;
//! - the protected objects never change.

use std::sync::{Arc, OnceLock};

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::{path, Core, CoreConfig, CoreError, Operation, Request, Response};
use crate::barrier::Barrier;
use crate::crypto::SecretString;
use crate::physical::InmemBackend;
use crate::seal::SealConfig;

/// One route: the operation, the protected path, the body of the request,
/// and how to read the protected object back (root token) to see that it
/// never changes.
struct Route {
    op: Operation,
    protected: &'static str,
    body: fn() -> Value,
    /// (operation, path) whose response data fingerprints the object.
    fingerprint: Option<(Operation, &'static str)>,
    /// For writes whose canonical path reads back what was written: the
    /// JSON pointer, in the read's data, of the written value.
    readback: Option<&'static str>,
}

fn empty() -> Value {
    json!({})
}

fn kv2_body() -> Value {
    json!({"data": {"v": "written"}})
}

fn kv1_body() -> Value {
    json!({"v": "written"})
}

fn policy_body() -> Value {
    json!({"policy": r#"path "*" { capabilities = ["sudo", "read"] }"#})
}

fn role_body() -> Value {
    json!({"key": "bosskey", "ttl": "2h"})
}

fn key_body() -> Value {
    json!({"algorithm": "EdDSA", "rotation_period": "2h"})
}

fn approle_body() -> Value {
    json!({"token_policies": ["root-ish"]})
}

fn tune_body() -> Value {
    json!({"max_lease_ttl": "1h"})
}

const ROUTES: &[Route] = &[
    Route {
        op: Operation::Update,
        protected: "secret/data/boss",
        body: kv2_body,
        fingerprint: Some((Operation::Read, "secret/data/boss")),
        readback: Some("/data/v"),
    },
    Route {
        op: Operation::Read,
        protected: "secret/data/boss",
        body: empty,
        fingerprint: None,
        readback: None,
    },
    Route {
        op: Operation::Delete,
        protected: "secret/metadata/boss",
        body: empty,
        fingerprint: Some((Operation::Read, "secret/metadata/boss")),
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "kv/boss",
        body: kv1_body,
        fingerprint: Some((Operation::Read, "kv/boss")),
        readback: Some("/v"),
    },
    Route {
        op: Operation::Delete,
        protected: "kv/boss",
        body: empty,
        fingerprint: Some((Operation::Read, "kv/boss")),
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "cubbyhole/boss",
        body: kv1_body,
        fingerprint: None,
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "sys/policies/acl/boss",
        body: policy_body,
        fingerprint: Some((Operation::Read, "sys/policies/acl/boss")),
        readback: Some("/policy"),
    },
    Route {
        op: Operation::Read,
        protected: "sys/policies/acl/boss",
        body: empty,
        fingerprint: None,
        readback: None,
    },
    Route {
        op: Operation::Delete,
        protected: "sys/policies/acl/boss",
        body: empty,
        fingerprint: Some((Operation::Read, "sys/policies/acl/boss")),
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "identity/oidc/role/boss",
        body: role_body,
        fingerprint: Some((Operation::Read, "identity/oidc/role/boss")),
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "identity/oidc/key/bosskey",
        body: key_body,
        fingerprint: Some((Operation::Read, "identity/oidc/key/bosskey")),
        readback: None,
    },
    Route {
        op: Operation::Delete,
        protected: "identity/oidc/key/bosskey",
        body: empty,
        fingerprint: Some((Operation::Read, "identity/oidc/key/bosskey")),
        readback: None,
    },
    Route {
        op: Operation::Read,
        protected: "identity/oidc/token/boss",
        body: empty,
        fingerprint: None,
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "auth/approle/role/boss",
        body: approle_body,
        fingerprint: Some((Operation::Read, "auth/approle/role/boss")),
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "auth/approle/role/boss/secret-id",
        body: empty,
        fingerprint: Some((Operation::List, "auth/approle/role/boss/secret-id/")),
        readback: None,
    },
    Route {
        op: Operation::Update,
        protected: "sys/mounts/victim/tune",
        body: tune_body,
        fingerprint: Some((Operation::Read, "sys/mounts/victim/tune")),
        readback: None,
    },
    Route {
        op: Operation::Delete,
        protected: "sys/mounts/victim",
        body: empty,
        fingerprint: Some((Operation::Read, "sys/mounts/victim/tune")),
        readback: None,
    },
    Route {
        op: Operation::Delete,
        protected: "sys/auth/victimauth",
        body: empty,
        fingerprint: Some((Operation::Read, "sys/auth/victimauth/tune")),
        readback: None,
    },
];

struct Fixture {
    core: Arc<Core>,
    root: SecretString,
    limited: SecretString,
    /// The fingerprint of each route's protected object after setup.
    fingerprints: Vec<Option<Value>>,
}

fn send(
    core: &Core,
    token: &SecretString,
    op: Operation,
    raw: &str,
    body: Value,
) -> Result<Response, CoreError> {
    // What the HTTP layer does: decode once, then hand the core the path.
    let decoded = path::decode(raw).map_err(|e| CoreError::BadRequest(e.to_string()))?;
    let mut req = Request::new(op, &decoded);
    req.client_token = Some(token.clone());
    if let Value::Object(m) = body {
        req.data = m;
    }
    core.handle(req)
}

fn ok(core: &Core, token: &SecretString, op: Operation, path: &str, body: Value) -> Response {
    match send(core, token, op, path, body) {
        Ok(r) => r,
        Err(e) => panic!("setup {op:?} {path}: {e}"),
    }
}

fn data_of(r: &Response) -> Value {
    let mut m = r.data.clone().unwrap_or_default();
    // Volatile fields: times that move on their own.
    for k in ["next_rotation", "updated_time", "current_version"] {
        m.remove(k);
    }
    Value::Object(m)
}

fn fingerprint(f: &Fixture, route: &Route) -> Option<Value> {
    let (op, p) = route.fingerprint?;
    Some(match send(&f.core, &f.root, op, p, json!({})) {
        Ok(r) => data_of(&r),
        Err(e) => json!({ "error": e.to_string() }),
    })
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let barrier = Barrier::new(Arc::new(InmemBackend::new()));
        let core = Core::new(barrier, CoreConfig::default());
        let init = core
            .initialize(SealConfig::new(1, 1).expect("seal config"))
            .expect("init");
        core.submit_unseal_share(init.shares[0].clone())
            .expect("unseal");
        let root = init.root_token.clone();
        let c = &core;
        use Operation::Update;
        ok(c, &root, Update, "sys/mounts/secret", json!({"type": "kv", "options": {"version": "2"}}));
        ok(c, &root, Update, "sys/mounts/kv", json!({"type": "kv"}));
        ok(c, &root, Update, "sys/mounts/victim", json!({"type": "kv"}));
        ok(c, &root, Update, "sys/auth/approle", json!({"type": "approle"}));
        ok(c, &root, Update, "sys/auth/victimauth", json!({"type": "approle"}));
        ok(c, &root, Update, "secret/data/boss", json!({"data": {"v": "original"}}));
        ok(c, &root, Update, "kv/boss", json!({"v": "original"}));
        ok(c, &root, Update, "sys/policies/acl/boss", json!({"policy": r#"path "secret/*" { capabilities = ["read"] }"#}));
        ok(c, &root, Update, "identity/oidc/key/bosskey", json!({"algorithm": "EdDSA"}));
        ok(c, &root, Update, "identity/oidc/role/boss", json!({"key": "bosskey"}));
        ok(c, &root, Update, "auth/approle/role/boss", json!({"token_policies": ["boss"]}));
        let mut policy = String::from(
            r#"path "*" { capabilities = ["create", "read", "update", "delete", "list", "patch", "sudo"] }
"#,
        );
        for r in ROUTES {
            policy.push_str(&format!(
                "path \"{}\" {{ capabilities = [\"deny\"] }}\n",
                r.protected
            ));
        }
        ok(c, &root, Update, "sys/policies/acl/limited", json!({ "policy": policy }));
        let resp = ok(c, &root, Update, "auth/token/create", json!({"policies": ["limited"], "no_default_policy": true}));
        let limited = resp.auth.as_ref().expect("auth").client_token.clone();
        let mut f = Fixture {
            core,
            root,
            limited,
            fingerprints: Vec::new(),
        };
        f.fingerprints = ROUTES.iter().map(|r| fingerprint(&f, r)).collect();
        f
    })
}

/// One character of the request path: what it decodes to and how it is
/// written in the URL.
#[derive(Clone, Debug)]
struct Unit {
    ch: char,
    enc: String,
}

fn units(s: &str) -> Vec<Unit> {
    s.chars()
        .map(|ch| Unit {
            ch,
            enc: ch.to_string(),
        })
        .collect()
}

#[derive(Clone, Debug)]
enum Mutation {
    /// Flip the case of the letter at this index.
    Case(usize),
    /// Whitespace (from [`WHITESPACE`]) at the start or end of a segment.
    Pad {
        seg: usize,
        front: bool,
        ws: usize,
    },
    /// Double the k-th '/'.
    DoubleSlash(usize),
    TrailingSlash,
    /// Write the k-th '/' as `%2f` or `%2F`.
    EncodeSlash(usize, bool),
    /// Insert a dot segment after the k-th '/' (see [`DOTS`]).
    Dot(usize, usize),
    /// Percent-encode the character at this index.
    Encode(usize),
    /// Insert `%00` at this index.
    Nul(usize),
    /// `sys/policies/acl/` → the legacy `sys/policy/`.
    Legacy,
}

const WHITESPACE: [(char, &str); 4] = [
    (' ', "%20"),
    ('\t', "%09"),
    ('\u{a0}', "%C2%A0"),
    (' ', " "),
];

/// Dot segments (each followed by '/'): "." | "%2e" | "x/.." | "%2E%2E" after "x/".
const DOTS: [&[(char, &str)]; 4] = [
    &[('.', ".")],
    &[('.', "%2e")],
    &[('x', "x"), ('/', "/"), ('.', "."), ('.', ".")],
    &[('x', "x"), ('/', "/"), ('.', "%2E"), ('.', "%2E")],
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::Case),
        (any::<usize>(), any::<bool>(), 0..WHITESPACE.len())
            .prop_map(|(seg, front, ws)| Mutation::Pad { seg, front, ws }),
        any::<usize>().prop_map(Mutation::DoubleSlash),
        Just(Mutation::TrailingSlash),
        (any::<usize>(), any::<bool>()).prop_map(|(k, up)| Mutation::EncodeSlash(k, up)),
        (any::<usize>(), 0..DOTS.len()).prop_map(|(k, d)| Mutation::Dot(k, d)),
        any::<usize>().prop_map(Mutation::Encode),
        any::<usize>().prop_map(Mutation::Nul),
        Just(Mutation::Legacy),
    ]
}

fn slash_positions(u: &[Unit]) -> Vec<usize> {
    u.iter()
        .enumerate()
        .filter(|(_, x)| x.ch == '/')
        .map(|(i, _)| i)
        .collect()
}

fn apply(u: &mut Vec<Unit>, m: &Mutation) {
    let slashes = slash_positions(u);
    match *m {
        Mutation::Case(i) => {
            let i = i % u.len();
            let ch = u[i].ch;
            if ch.is_ascii_alphabetic() && u[i].enc.len() == 1 {
                let flipped = if ch.is_ascii_lowercase() {
                    ch.to_ascii_uppercase()
                } else {
                    ch.to_ascii_lowercase()
                };
                u[i] = Unit {
                    ch: flipped,
                    enc: flipped.to_string(),
                };
            }
        }
        Mutation::Pad { seg, front, ws } => {
            let (ch, enc) = WHITESPACE[ws];
            let unit = Unit {
                ch,
                enc: enc.to_string(),
            };
            let nseg = slashes.len() + 1;
            let seg = seg % nseg;
            let at = if front {
                if seg == 0 {
                    0
                } else {
                    slashes[seg - 1] + 1
                }
            } else if seg < slashes.len() {
                slashes[seg]
            } else {
                u.len()
            };
            u.insert(at, unit);
        }
        Mutation::DoubleSlash(k) if !slashes.is_empty() => {
            let at = slashes[k % slashes.len()];
            u.insert(
                at,
                Unit {
                    ch: '/',
                    enc: "/".into(),
                },
            );
        }
        Mutation::TrailingSlash => u.push(Unit {
            ch: '/',
            enc: "/".into(),
        }),
        Mutation::EncodeSlash(k, up) if !slashes.is_empty() => {
            let at = slashes[k % slashes.len()];
            u[at].enc = if up { "%2F" } else { "%2f" }.into();
        }
        Mutation::Dot(k, d) if !slashes.is_empty() => {
            let at = slashes[k % slashes.len()] + 1;
            let mut ins: Vec<Unit> = DOTS[d]
                .iter()
                .map(|(ch, enc)| Unit {
                    ch: *ch,
                    enc: enc.to_string(),
                })
                .collect();
            ins.push(Unit {
                ch: '/',
                enc: "/".into(),
            });
            for (j, x) in ins.into_iter().enumerate() {
                u.insert(at + j, x);
            }
        }
        Mutation::Encode(i) => {
            let i = i % u.len();
            if u[i].ch.is_ascii() && u[i].enc.len() == 1 {
                u[i].enc = format!("%{:02X}", u[i].ch as u32);
            }
        }
        Mutation::Nul(i) => {
            let i = i % (u.len() + 1);
            u.insert(
                i,
                Unit {
                    ch: '\0',
                    enc: "%00".into(),
                },
            );
        }
        Mutation::Legacy => {
            let s: String = u.iter().map(|x| x.ch).collect();
            if let Some(rest) = s.strip_prefix("sys/policies/acl/") {
                let keep = u.split_off(u.len() - rest.chars().count());
                *u = units("sys/policy/");
                u.extend(keep);
            }
        }
        _ => {}
    }
}

/// Every object a lenient server could take the decoded path to: decode
/// `%2F` too, drop empty and `.` segments, resolve `..`, trim segments,
/// fold policy names, and map the legacy alias.
fn lenient(decoded: &str) -> String {
    let mut segs: Vec<String> = Vec::new();
    for s in decoded.split('/') {
        let s = s.trim();
        match s {
            "" | "." => {}
            ".." => {
                segs.pop();
            }
            s => segs.push(s.to_string()),
        }
    }
    let mut p = segs.join("/");
    if let Some(rest) = p.strip_prefix("sys/policy/") {
        p = format!("sys/policies/acl/{rest}");
    }
    if let Some(rest) = p.strip_prefix("sys/policies/acl/") {
        p = format!("sys/policies/acl/{}", rest.to_lowercase());
    }
    p
}

fn check(route: &Route, mutations: &[Mutation]) -> Result<(), TestCaseError> {
    let f = fixture();
    let mut u = units(route.protected);
    for m in mutations {
        apply(&mut u, m);
    }
    let raw: String = u.iter().map(|x| x.enc.as_str()).collect();
    let decoded_any: String = u.iter().map(|x| x.ch).collect();
    let result = send(&f.core, &f.limited, route.op, &raw, (route.body)());
    let canonical = path::decode(&raw)
        .ok()
        .and_then(|d| path::canonicalize(route.op, &d).ok());
    let what = format!("{:?} {raw:?}", route.op);
    match &canonical {
        None => prop_assert!(
            matches!(result, Err(CoreError::BadRequest(_))),
            "{what}: refused by the canonical rule, but got {result:?}"
        ),
        Some(c) if c.path == route.protected => prop_assert!(
            matches!(result, Err(CoreError::PermissionDenied)),
            "{what}: canonical path is the protected one, but got {result:?}"
        ),
        Some(c) => {
            prop_assert!(
                !matches!(result, Err(CoreError::PermissionDenied)),
                "{what}: the ACL allows {:?}, but the request was denied",
                c.path
            );
            // A success carries no error status; Vault's 404 with a
            // warning (an unknown KV v2 path) is an answer, not a write.
            let written_ok = matches!(&result, Ok(r) if r.status.is_none_or(|s| s < 400));
            if let (true, Some(field)) = (written_ok, route.readback) {
                let stored = send(&f.core, &f.root, Operation::Read, &c.path, json!({}))
                    .map(|r| Value::Object(r.data.unwrap_or_else(Map::new)));
                let written = (route.body)();
                let want = match field {
                    "/policy" => written["policy"].clone(),
                    "/data/v" => written["data"]["v"].clone(),
                    _ => written["v"].clone(),
                };
                let got = stored.as_ref().ok().and_then(|v| v.pointer(field)).cloned();
                prop_assert_eq!(got, Some(want), "{}: stored object of {:?}", what, c.path);
            }
        }
    }
    // Whatever the server thought, a spelling of the protected object is
    // never served.
    if lenient(&decoded_any) == route.protected {
        prop_assert!(
            matches!(
                result,
                Err(CoreError::BadRequest(_)) | Err(CoreError::PermissionDenied)
            ),
            "{what}: a spelling of the protected object was served: {result:?}"
        );
    }
    for (r, before) in ROUTES.iter().zip(&f.fingerprints) {
        prop_assert_eq!(
            &fingerprint(f, r),
            before,
            "{} changed {}",
            what,
            r.protected
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_spelling_is_refused_or_decided_as_its_canonical_path(
        route in 0..ROUTES.len(),
        mutations in prop::collection::vec(mutation(), 1..4),
    ) {
        check(&ROUTES[route], &mutations)?;
    }
}

#[test]
fn the_unmutated_protected_paths_are_denied() {
    for r in ROUTES {
        check(r, &[]).unwrap_or_else(|e| panic!("{}: {e}", r.protected));
    }
}

#[test]
fn known_attacks_are_refused_or_denied() {
    use Mutation::*;
    let cases: Vec<(usize, Vec<Mutation>)> = vec![
        (6, vec![Case(17)]), // sys/policies/acl/Boss
        (
            6,
            vec![Pad {
                seg: 3,
                front: true,
                ws: 0,
            }],
        ), // %20boss
        (6, vec![Legacy]),   // sys/policy/boss
        (12, vec![TrailingSlash]), // identity/oidc/token/boss/
        (12, vec![EncodeSlash(3, false)]), // identity/oidc%2ftoken/boss
        (14, vec![TrailingSlash]), // approle …/secret-id/
        (16, vec![DoubleSlash(1)]), // sys/mounts//victim
        (0, vec![Nul(14)]),  // secret/data/bo%00ss
        (0, vec![Dot(2, 2)]), // secret/data/x/../boss
        (0, vec![Encode(13)]), // secret/data/b%6Fss
    ];
    for (i, ms) in cases {
        check(&ROUTES[i], &ms).unwrap_or_else(|e| panic!("{}: {e}", ROUTES[i].protected));
    }
}
