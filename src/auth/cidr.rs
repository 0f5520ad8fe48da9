//! CIDR checks for bound tokens, secret ids and roles.

use std::net::IpAddr;

use ipnet::IpNet;

/// Parses a list of CIDR blocks (a bare address is a /32 or /128).
pub fn parse_cidrs(items: &[String]) -> Result<Vec<IpNet>, String> {
    items
        .iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| format!("invalid CIDR block \"{s}\""))
        })
        .collect()
}

/// Whether `addr` is inside one of `cidrs` (always true when `cidrs` is empty).
pub fn allowed(cidrs: &[String], addr: Option<IpAddr>) -> bool {
    if cidrs.is_empty() {
        return true;
    }
    let Some(addr) = addr else { return false };
    match parse_cidrs(cidrs) {
        Ok(nets) => nets.iter().any(|n| n.contains(&addr)),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        let c = vec!["127.0.0.1/32".to_string()];
        assert!(allowed(&c, Some("127.0.0.1".parse().unwrap())));
        assert!(!allowed(&c, Some("127.0.0.2".parse().unwrap())));
        assert!(!allowed(&c, None));
        assert!(allowed(&[], None));
        assert!(allowed(
            &["10.0.0.0/8".into()],
            Some("10.2.3.4".parse().unwrap())
        ));
        assert!(parse_cidrs(&["nope".into()]).is_err());
        assert!(parse_cidrs(&["::1".into()]).is_ok());
    }
}
