# Shared pieces of the test and benchmark scripts (sourced, not run).
#
# Owns: locating the server binary and a Python interpreter, writing a sled
# configuration on 127.0.0.1:0, and waiting for a started server to listen.
# Must not: start or stop servers itself, or hold any script's state.

# The absolute path of $VAULT_RS_BIN (default target/debug/vault-rs),
# relative paths taken from the repository root $ROOT.
resolve_bin() {
    local bin="${VAULT_RS_BIN:-target/debug/vault-rs}"
    case "$bin" in /*) ;; *) bin="$ROOT/$bin" ;; esac
    echo "$bin"
}

# $PYTHON if set, else the compat suite's venv, else python3.
default_python() {
    if [[ -n "${PYTHON:-}" ]]; then
        echo "$PYTHON"
    elif [[ -x "$ROOT/.venv-compat/bin/python" ]]; then
        echo "$ROOT/.venv-compat/bin/python"
    else
        echo python3
    fi
}

# write_sled_config FILE DATA_DIR: a server on 127.0.0.1:0 (no TLS) with
# sled storage in DATA_DIR.
write_sled_config() {
    cat >"$1" <<CONF
storage "sled" {
  path = "$2"
}

listener "tcp" {
  address     = "127.0.0.1:0"
  tls_disable = true
}
CONF
}

# wait_listening PID LOG TIMEOUT: waits until the server PID prints its
# address in LOG and sets URL (no trailing '/'). Returns 1 if the process
# exits first (2 on timeout), with URL empty.
wait_listening() {
    local pid="$1" log="$2" timeout="$3"
    local deadline=$((SECONDS + timeout)) line
    URL=""
    while [[ $SECONDS -lt $deadline ]]; do
        kill -0 "$pid" 2>/dev/null || return 1
        line="$(grep -a -o -m1 'Listening on http://[^[:space:]]*' "$log" 2>/dev/null || true)"
        if [[ -n "$line" ]]; then
            URL="${line#Listening on }"
            URL="${URL%/}"
            return 0
        fi
        sleep 0.05
    done
    return 2
}
