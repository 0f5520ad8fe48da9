# operator: day-to-day administration without the root token.
# Manages mounts, auth methods, policies, audit devices, leases and key
# rotation. It cannot read secret values: operators run the vault, they do
# not use its secrets.

# Secrets engines and auth methods (enabling and tuning need sudo).
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/auth/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}

# Policies.
path "sys/policies/acl" {
  capabilities = ["list"]
}
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "delete"]
}

# Audit devices and hashing a value to search the log.
path "sys/audit" {
  capabilities = ["read", "sudo"]
}
path "sys/audit/*" {
  capabilities = ["create", "read", "update", "delete", "sudo"]
}
path "sys/audit-hash/*" {
  capabilities = ["update", "sudo"]
}

# Leases and tokens of others.
path "sys/leases/*" {
  capabilities = ["read", "update", "list", "sudo"]
}
path "auth/token/accessors" {
  capabilities = ["list", "sudo"]
}
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}
path "auth/token/revoke-accessor" {
  capabilities = ["update"]
}

# Barrier key rotation and sealing in an emergency.
path "sys/rotate" {
  capabilities = ["update", "sudo"]
}
path "sys/key-status" {
  capabilities = ["read", "sudo"]
}
path "sys/seal" {
  capabilities = ["update", "sudo"]
}
