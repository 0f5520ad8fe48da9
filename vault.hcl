# A local, single-node vault-rs: data in ./vault-data (sled), HTTP on
# loopback only. For anything beyond a laptop, set tls_disable = false and
# point tls_cert_file / tls_key_file at a certificate for api_addr.
storage "sled" {
  path = "vault-data"
}

listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}

api_addr          = "http://127.0.0.1:8200"
log_level         = "info"
default_lease_ttl = "768h"
max_lease_ttl     = "768h"
