path "secret/data/app/*" {
  capabilities = ["read", "list"]
}
path "a/+/b" { capabilities = ["deny"] }
