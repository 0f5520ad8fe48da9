# rotation-bot: CI job or on-call tool that rotates and revokes API keys.
# It can see key metadata and rotate, but it never reads a key value
# through creds/ (a rotation response shows the new key once).

path "apikeys/keys" {
  capabilities = ["list"]
}
path "apikeys/keys/*" {
  capabilities = ["read"]
}
path "apikeys/keys/+/rotate" {
  capabilities = ["update"]
}
path "apikeys/keys/+/revoke" {
  capabilities = ["update"]
}

# Barrier key rotation is for operators, never for the bot.
path "sys/rotate" {
  capabilities = ["deny"]
}
