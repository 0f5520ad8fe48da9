path "a" {
  comment = "%{if x}${y}%{else}$${z}%{endif}%{for k in v}${k}%{endfor}"
  capabilities = []
}
