# Example server configuration for the systemd unit and the container.
# Paths match the unit's StateDirectory/LogsDirectory (/var/lib/vault-rs,
# /var/log/vault-rs) and the container's volumes.
storage "sled" {
  path = "/var/lib/vault-rs/data"
}

listener "tcp" {
  address       = "0.0.0.0:8200"
  # Terminate TLS here in production: set tls_disable = false and point
  # these at the certificate and key (readable by the vault-rs user only).
  tls_disable   = true
  # tls_cert_file = "/etc/vault-rs/tls/cert.pem"
  # tls_key_file  = "/etc/vault-rs/tls/key.pem"
}

api_addr  = "http://127.0.0.1:8200"
log_level = "info"
