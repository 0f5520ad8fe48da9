//! The canonical request path: the one path both the ACL check and the
//! handler see.
//!
//! Owns: percent-decoding of the path (for the HTTP layer), the refusal of
//! paths no engine may receive, the folding of names that Vault folds
//! (policy names are lower-cased), and the rewriting of aliases to the path
//! they stand for (`sys/policy/:name` is `sys/policies/acl/:name`). The
//! pipeline canonicalises every request once, before anything else looks at
//! the path; engines never trim, fold or re-split a path themselves.
//! Must not touch: routing, storage, the ACL.
//!
//! The rule: after decoding, a path is a sequence of non-empty segments
//! separated by single `/`; no segment is `.` or `..`, holds a control
//! character (NUL included), or starts or ends with whitespace; `/` never
//! comes from `%2F`; only list operations end in `/`. What breaks the rule is
//! refused (400), except two spellings Vault clients send that are rewritten
//! to the canonical path before the ACL sees it: a trailing `/` after a mount
//! path in `sys/mounts/…`, `sys/auth/…` and `sys/internal/ui/mounts/…`
//! (`sys/mounts/secret/`, `sys/mounts/secret//tune`), and after a lease
//! prefix in `sys/leases/revoke-prefix/…`.

use super::Operation;

/// Why a path was refused. The messages name the rule, never echo the path
/// (it may be long, or hold bytes a log viewer would interpret).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathError {
    /// `%` not followed by two hex digits, or bytes that are not UTF-8.
    BadEncoding,
    /// `%2F`: a `/` the router would see but the client hid.
    EncodedSlash,
    /// `//`, or a leading `/`.
    EmptySegment,
    /// A `.` or `..` segment.
    DotSegment,
    /// NUL or another control character.
    ControlCharacter,
    /// A segment that starts or ends with whitespace.
    Whitespace,
    /// A trailing `/` on an operation other than list.
    TrailingSlash,
}

impl std::fmt::Display for PathError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathError::BadEncoding => "invalid path encoding",
            PathError::EncodedSlash => "invalid path: an encoded '/' (%2F) is not allowed",
            PathError::EmptySegment => "invalid path: empty segment ('//')",
            PathError::DotSegment => "invalid path: '.' and '..' segments are not allowed",
            PathError::ControlCharacter => "invalid path: control characters are not allowed",
            PathError::Whitespace => "invalid path: a segment may not start or end with whitespace",
            PathError::TrailingSlash => {
                "invalid path: a trailing '/' is only allowed on list operations"
            }
        })
    }
}

impl std::error::Error for PathError {}

/// A request path in canonical form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Canonical {
    /// The path the ACL checks and the handler serves.
    pub path: String,
    /// The legacy alias the client used (`sys/policy/…`), when the path was
    /// rewritten from one; only the shape of the response depends on it.
    pub alias: Option<String>,
}

/// Percent-decodes a request path (below `/v1/`). An encoded `/` is refused:
/// the router would split on it where the client meant a character.
pub fn decode(raw: &str) -> Result<String, PathError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(PathError::BadEncoding)?;
            let hex = std::str::from_utf8(hex).map_err(|_| PathError::BadEncoding)?;
            let v = u8::from_str_radix(hex, 16).map_err(|_| PathError::BadEncoding)?;
            if v == b'/' {
                return Err(PathError::EncodedSlash);
            }
            out.push(v);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| PathError::BadEncoding)
}

/// Prefixes under which a trailing `/` after a mount path or lease prefix
/// (sent by Vault clients on non-list operations) is rewritten away.
const MOUNT_ADMIN: [&str; 5] = [
    "sys/mounts/",
    "sys/auth/",
    "sys/internal/ui/mounts/",
    "sys/leases/revoke-prefix/",
    "sys/revoke-prefix/",
];

const POLICIES: &str = "sys/policies/acl";
const LEGACY_POLICIES: &str = "sys/policy";

/// The canonical form of a decoded `path` for `op` (see the module docs).
pub fn canonicalize(op: Operation, path: &str) -> Result<Canonical, PathError> {
    let list = op == Operation::List;
    let mut body = path.to_string();
    if !list && MOUNT_ADMIN.iter().any(|p| body.starts_with(p)) {
        if let Some(stem) = body.strip_suffix("//tune") {
            if body.starts_with("sys/mounts/") || body.starts_with("sys/auth/") {
                body = format!("{stem}/tune");
            }
        }
        if body.ends_with('/') && !body.ends_with("//") {
            body.pop();
        }
    }
    let trailing = body.ends_with('/');
    if trailing {
        if !list {
            return Err(PathError::TrailingSlash);
        }
        body.pop();
    }
    if !body.is_empty() {
        for seg in body.split('/') {
            check_segment(seg)?;
        }
    }
    let (body, alias) = fold(body);
    let path = if list && !body.is_empty() {
        format!("{body}/")
    } else {
        body
    };
    Ok(Canonical { path, alias })
}

fn check_segment(seg: &str) -> Result<(), PathError> {
    if seg.is_empty() {
        return Err(PathError::EmptySegment);
    }
    if seg == "." || seg == ".." {
        return Err(PathError::DotSegment);
    }
    if seg.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter);
    }
    let starts = seg.chars().next().is_some_and(char::is_whitespace);
    let ends = seg.chars().next_back().is_some_and(char::is_whitespace);
    if starts || ends {
        return Err(PathError::Whitespace);
    }
    Ok(())
}

/// Folds policy names (Vault lower-cases them) and rewrites the legacy
/// `sys/policy` alias to `sys/policies/acl`, so both spellings of a policy
/// are one ACL object. Returns the path and the alias used, if any.
fn fold(body: String) -> (String, Option<String>) {
    let (rest, alias) = if let Some(rest) = strip_dir(&body, POLICIES) {
        (rest, None)
    } else if let Some(rest) = strip_dir(&body, LEGACY_POLICIES) {
        (rest, Some(body.clone()))
    } else {
        return (body, None);
    };
    let path = match rest {
        "" => POLICIES.to_string(),
        name => format!("{POLICIES}/{}", name.to_lowercase()),
    };
    (path, alias)
}

/// `Some("")` for `dir` itself, `Some(rest)` for `dir/rest`.
fn strip_dir<'a>(path: &'a str, dir: &str) -> Option<&'a str> {
    let rest = path.strip_prefix(dir)?;
    if rest.is_empty() {
        return Some("");
    }
    rest.strip_prefix('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(op: Operation, p: &str) -> Result<String, PathError> {
        canonicalize(op, p).map(|c| c.path)
    }

    #[test]
    fn decoding_refuses_encoded_slash_and_bad_bytes() {
        assert_eq!(
            decode("secret/data/a%20b").as_deref(),
            Ok("secret/data/a b")
        );
        assert_eq!(decode("a%2fb"), Err(PathError::EncodedSlash));
        assert_eq!(decode("a%2Fb"), Err(PathError::EncodedSlash));
        assert_eq!(decode("a%zz"), Err(PathError::BadEncoding));
        assert_eq!(decode("a%4"), Err(PathError::BadEncoding));
        assert_eq!(decode("a%ff"), Err(PathError::BadEncoding));
        assert_eq!(decode("a%00b").as_deref(), Ok("a\0b"));
    }

    #[test]
    fn refuses_what_no_engine_may_receive() {
        use Operation::*;
        let cases = [
            ("secret//x", PathError::EmptySegment),
            ("/secret/x", PathError::EmptySegment),
            ("secret/./x", PathError::DotSegment),
            ("secret/x/..", PathError::DotSegment),
            ("secret/data/a\0b", PathError::ControlCharacter),
            ("secret/data/a\tb", PathError::ControlCharacter),
            ("secret/data/a\u{7f}", PathError::ControlCharacter),
            ("secret/data/ a", PathError::Whitespace),
            ("secret/data/a ", PathError::Whitespace),
            ("secret/data/a\u{a0}", PathError::Whitespace),
            ("secret/data/a/", PathError::TrailingSlash),
            ("identity/oidc/token/boss/", PathError::TrailingSlash),
            (
                "auth/approle/role/boss/secret-id/",
                PathError::TrailingSlash,
            ),
            ("sys/mounts//kv", PathError::EmptySegment),
            ("sys/auth//userpass", PathError::EmptySegment),
            ("sys/mounts/kv//", PathError::TrailingSlash),
        ];
        for (p, want) in cases {
            for op in [Read, Update, Delete] {
                assert_eq!(canon(op, p), Err(want), "{op:?} {p:?}");
            }
        }
        assert_eq!(canon(List, "secret//x/"), Err(PathError::EmptySegment));
        assert_eq!(canon(List, "secret/x//"), Err(PathError::EmptySegment));
    }

    #[test]
    fn lists_end_in_one_slash() {
        assert_eq!(
            canon(Operation::List, "secret/metadata").unwrap(),
            "secret/metadata/"
        );
        assert_eq!(
            canon(Operation::List, "secret/metadata/").unwrap(),
            "secret/metadata/"
        );
        assert_eq!(canon(Operation::List, "").unwrap(), "");
        assert_eq!(canon(Operation::Read, "").unwrap(), "");
        assert_eq!(canon(Operation::Read, "secret/a b").unwrap(), "secret/a b");
    }

    #[test]
    fn mount_admin_trailing_slash_is_rewritten() {
        use Operation::*;
        assert_eq!(
            canon(Update, "sys/mounts/secret/").unwrap(),
            "sys/mounts/secret"
        );
        assert_eq!(
            canon(Delete, "sys/auth/userpass/").unwrap(),
            "sys/auth/userpass"
        );
        assert_eq!(
            canon(Update, "sys/mounts/kv//tune").unwrap(),
            "sys/mounts/kv/tune"
        );
        assert_eq!(
            canon(Read, "sys/internal/ui/mounts/secret/").unwrap(),
            "sys/internal/ui/mounts/secret"
        );
        assert_eq!(
            canon(Update, "sys/mounts//kv/tune"),
            Err(PathError::EmptySegment)
        );
    }

    #[test]
    fn policy_names_are_folded_and_the_legacy_alias_rewritten() {
        use Operation::*;
        let c = canonicalize(Update, "sys/policies/acl/DELEGATE").unwrap();
        assert_eq!(c.path, "sys/policies/acl/delegate");
        assert_eq!(c.alias, None);
        let c = canonicalize(Update, "sys/policy/Ops").unwrap();
        assert_eq!(c.path, "sys/policies/acl/ops");
        assert_eq!(c.alias.as_deref(), Some("sys/policy/Ops"));
        assert_eq!(canon(Read, "sys/policy").unwrap(), "sys/policies/acl");
        assert_eq!(canon(List, "sys/policy/").unwrap(), "sys/policies/acl/");
        assert_eq!(
            canon(List, "sys/policies/acl").unwrap(),
            "sys/policies/acl/"
        );
        assert_eq!(canon(Read, "sys/policyx").unwrap(), "sys/policyx");
        assert_eq!(
            canon(Update, "sys/policies/acl/%20delegate"),
            Ok("sys/policies/acl/%20delegate".into())
        );
        assert_eq!(
            canon(Update, "sys/policies/acl/ delegate"),
            Err(PathError::Whitespace)
        );
    }

    #[test]
    fn canonical_paths_are_fixed_points() {
        use Operation::*;
        for (op, p) in [
            (Update, "sys/mounts/secret/"),
            (Update, "sys/policy/A"),
            (List, "secret/metadata"),
            (Read, "secret/data/x"),
        ] {
            let once = canon(op, p).unwrap();
            assert_eq!(canon(op, &once).unwrap(), once, "{p}");
        }
    }
}
