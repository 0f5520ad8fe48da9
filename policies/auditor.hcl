# auditor: reviews the audit trail. It can list devices, fetch their
# checkpoint public keys and compute the HMAC of a value (to find "who used
# token X" without the log holding token X). It cannot change anything and
# reads no secret.

path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit/+/public-key" {
  capabilities = ["read", "sudo"]
}
path "sys/audit-hash/*" {
  capabilities = ["update", "sudo"]
}

# Which policies exist and what they grant.
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["read"]
}

# Token metadata by accessor (never the token itself).
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}
