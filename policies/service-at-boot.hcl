# service-at-boot: what a service (here "billing") needs when it starts.
# Attach it to the service's AppRole role (token_policies = ["billing"]).
# It reads only its own KV v2 secrets and its own API key, and can keep its
# token alive; nothing else.

# Its secrets (KV v2 at secret/): data and the metadata needed to detect changes.
path "secret/data/billing/*" {
  capabilities = ["read"]
}
path "secret/metadata/billing/*" {
  capabilities = ["read", "list"]
}

# Its current API key.
path "apikeys/creds/billing" {
  capabilities = ["read"]
}

# Validating keys that other services present to it.
path "apikeys/validate" {
  capabilities = ["update"]
}

# Its own token (lookup, renew, revoke are also in "default").
path "auth/token/renew-self" {
  capabilities = ["update"]
}
